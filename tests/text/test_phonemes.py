from __future__ import annotations

import shutil
import subprocess

import pytest

import speech.text.phonemes as phonemes_module
from speech.text.normalize import PAUSE_MARKS
from speech.text.phonemes import Phonemizer, PhonemizerError, cmu_dictionary, ipa_to_arpabet
from speech.text.vocab import PHONEMES, WORD_BOUNDARY, PhonemeVocab

VALID = set(PHONEMES) | {WORD_BOUNDARY, ",", ".", "?", "!"}
INVENTED = ["blorptastic", "zorbulator", "frindlewump", "quaxinate", "snorgleberry"]

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture
def phonemizer() -> Phonemizer:
    return Phonemizer()


@pytest.fixture
def espeak_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record every subprocess the phonemiser starts, still running the real espeak-ng."""
    calls: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(command, *args, **kwargs):
        calls.append(list(command))
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(phonemes_module.subprocess, "run", recording_run)
    return calls


def arpa(spaced: str) -> list[str]:
    return spaced.split()


def words_of(tokens: list[str]) -> list[list[str]]:
    """Split a phoneme sequence at word boundaries (pause marks dropped)."""
    words: list[list[str]] = [[]]
    for token in tokens:
        if token == WORD_BOUNDARY:
            words.append([])
        elif token not in {",", ".", "?", "!"}:
            words[-1].append(token)
    return words


def test_invented_words_are_not_in_the_dictionary() -> None:
    assert not set(INVENTED) & set(cmu_dictionary())


@pytest.mark.parametrize(
    ("word", "phones"),
    [
        ("speech", "S P IY1 CH"),
        ("hello", "HH AH0 L OW1"),
        ("world", "W ER1 L D"),
        ("Synthesis", "S IH1 N TH AH0 S AH0 S"),
        ("don't", "D OW1 N T"),
    ],
)
def test_dictionary_words(phonemizer: Phonemizer, word: str, phones: str) -> None:
    assert phonemizer.phonemize(word) == arpa(phones)


def test_boundaries_and_pause_marks(phonemizer: Phonemizer) -> None:
    tokens = phonemizer.phonemize("Hello, world! Speech?")
    assert tokens == arpa("HH AH0 L OW1 , | W ER1 L D ! | S P IY1 CH ?")


def test_text_is_normalised_first(phonemizer: Phonemizer) -> None:
    tokens = phonemizer.phonemize("Dr. Smith paid $5.")
    assert words_of(tokens) == [
        arpa("D AA1 K T ER0"),
        arpa("S M IH1 TH"),
        arpa("P EY1 D"),
        arpa("F AY1 V"),
        arpa("D AA1 L ER0 Z"),
    ]
    assert tokens[-1] == "."


def test_possessive_of_a_dictionary_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """CMU lacks "laptop's" and "bus's" but has the stems; no espeak-ng is needed for them."""
    monkeypatch.setattr(phonemes_module.shutil, "which", lambda name: None)
    phonemizer = Phonemizer()
    assert phonemizer.phonemize("laptop's") == arpa("L AE1 P T AA2 P S")
    assert phonemizer.phonemize("the bus's") == arpa("DH AH0 | B AH1 S IH0 Z")
    assert phonemizer.phonemize("speech's") == arpa("S P IY1 CH IH0 Z")
    assert phonemizer.phonemize("vocabulary's")[-1] == "Z"


@needs_espeak
def test_out_of_dictionary_word_goes_through_espeak(phonemizer: Phonemizer, espeak_calls: list) -> None:
    tokens = phonemizer.phonemize("blorptastic")
    assert len(espeak_calls) == 1
    assert tokens and set(tokens) <= set(PHONEMES)
    assert tokens[:2] == ["B", "L"] and tokens[-2:] == ["IH0", "K"]
    assert any(t.endswith("1") for t in tokens), "espeak's primary stress should survive the mapping"


@needs_espeak
def test_unknown_words_share_one_espeak_call(phonemizer: Phonemizer, espeak_calls: list) -> None:
    sentence = "The " + ", ".join(INVENTED) + " and the speech."
    tokens = phonemizer.phonemize(sentence)
    assert len(espeak_calls) == 1
    assert set(tokens) <= VALID
    words = words_of(tokens)
    assert len(words) == len(INVENTED) + 4 and all(words)
    # each invented word got its own pronunciation, in order
    assert words[1][:2] == ["B", "L"] and words[2][0] == "Z" and words[3][:2] == ["F", "R"]
    # cached: asking again starts no process
    assert phonemizer.phonemize(sentence) == tokens
    assert len(espeak_calls) == 1


def test_dictionary_words_need_no_espeak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phonemes_module.shutil, "which", lambda name: None)
    phonemizer = Phonemizer()
    assert phonemizer.phonemize("speech synthesis") == arpa("S P IY1 CH | S IH1 N TH AH0 S AH0 S")
    with pytest.raises(PhonemizerError, match="espeak-ng is not installed"):
        phonemizer.phonemize("the zorbulator")


def test_espeak_failure_is_reported() -> None:
    with pytest.raises(PhonemizerError, match="espeak-ng"):
        Phonemizer(espeak="/nonexistent/espeak-ng").phonemize("zorbulator")


@pytest.mark.parametrize(
    ("ipa", "phones"),
    [
        ("s_p_ˈiː_tʃ", "S P IY1 CH"),
        ("b_ˈʌ_ɾ_ɚ", "B AH1 T ER0"),
        ("f_ˈaɪɚ", "F AY1 ER0"),
        ("b_ˈʌ_ʔ_n̩", "B AH1 T AH0 N"),
        ("z_ˈoːɹ_b_j_ʊ_l_ˌeɪ_t", "Z AO1 R B Y UH0 L EY2 T"),
        ("ɐ_b_k_h_ˈeɪ_z_iə", "AH0 B K HH EY1 Z IY0 AH0"),
        ("k_w_ˈɑː_s_ɑ̃", "K W AA1 S AA0"),
        ("n_ˈɪ__aɪ", "N IH1 AY0"),
        ("(fr)b_ɔ̃(en)", "B AO0"),
        ("", ""),
    ],
)
def test_ipa_to_arpabet(ipa: str, phones: str) -> None:
    assert ipa_to_arpabet(ipa) == arpa(phones)


@pytest.mark.parametrize("ipa", ["ʘǃǂ", "ˈˈ__ˌ", "q͡ʘ", "😀", "aɪ̯ʊ̯ɐ̯"])
def test_ipa_mapping_never_emits_invalid_tokens(ipa: str) -> None:
    assert set(ipa_to_arpabet(ipa)) <= set(PHONEMES)


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "😀🎉", "日本語", "!!!", "?,.", "123", "$%^&*", "ÆØÅ ñ", "\x00", "Zoë's naïve café, 2019!"],
)
def test_garbage_does_not_crash(phonemizer: Phonemizer, garbage: str) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (some of these words are out of the dictionary)")
    tokens = phonemizer.phonemize(garbage)
    assert set(tokens) <= VALID
    assert not tokens or tokens[0] != WORD_BOUNDARY
    PhonemeVocab.english().encode(tokens)  # everything the phonemiser emits has an id


def test_empty_text(phonemizer: Phonemizer) -> None:
    assert phonemizer.phonemize("") == []
    assert phonemizer.phonemize("!?") == []


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("I will record a new record.", [("R", "IH0", "K", "AO1", "R", "D"), ("R", "EH1", "K", "ER0", "D")]),
        ("They refuse to collect the refuse.", [("R", "IH0", "F", "Y", "UW1", "Z"), ("R", "EH1", "F", "Y", "UW2", "S")]),
        ("She has read it. Please read it.", [("R", "EH1", "D"), ("R", "IY1", "D")]),
        ("We live near a live wire.", [("L", "IH1", "V"), ("L", "AY1", "V")]),
        ("The wind made us wind the rope.", [("W", "IH1", "N", "D"), ("W", "AY1", "N", "D")]),
        ("To present the present, we object to no object.", [
            ("P", "R", "IY0", "Z", "EH1", "N", "T"), ("P", "R", "EH1", "Z", "AH0", "N", "T"),
            ("AH0", "B", "JH", "EH1", "K", "T"), ("AA1", "B", "JH", "EH0", "K", "T"),
        ]),
    ],
)  # fmt: skip
def test_homographs_are_read_by_the_word_before_them(text: str, readings: list[tuple[str, ...]]) -> None:
    phones = Phonemizer().phonemize(text)
    words, current = [], []
    for token in [*phones, WORD_BOUNDARY]:
        if token == WORD_BOUNDARY or token in PAUSE_MARKS:
            if current:
                words.append(tuple(current))
            current = []
        else:
            current.append(token)
    assert [word for word in words if word in readings] == readings
