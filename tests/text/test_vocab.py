from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from speech.ctc import collapse
from speech.errors import SpeechError
from speech.text.normalize import TextError, normalize_text
from speech.text.vocab import BLANK, PAD, PHONEMES, WORD_BOUNDARY, CharVocab, PhonemeVocab, Vocab


def test_english_char_layout() -> None:
    vocab = CharVocab.english()
    assert len(vocab) == 29
    assert vocab.blank == 0
    assert vocab.tokens[:3] == (BLANK, " ", "'")
    assert "".join(vocab.tokens[3:]) == string.ascii_lowercase
    assert vocab.encode(" 'az") == [1, 2, 3, 28]


@pytest.mark.parametrize(
    "raw", ["Hello, world!", "It's Dr. Smith's $5.50 café at 3:30 pm.", "the FBI in 1999", "", "😀"]
)
def test_char_round_trip_of_normalised_text(raw: str) -> None:
    vocab = CharVocab.english()
    text = normalize_text(raw)
    ids = vocab.encode(text)
    assert all(0 < i < len(vocab) for i in ids)
    assert vocab.decode(ids) == text


@pytest.mark.parametrize(
    ("text", "bad"), [("Hello", "H"), ("cafe\u0301", "\u0301"), ("one, two", ","), ("r2d2", "2")]
)
def test_char_encode_names_the_bad_character(text: str, bad: str) -> None:
    with pytest.raises(TextError) as caught:
        CharVocab.english().encode(text)
    assert repr(bad) in str(caught.value)
    assert isinstance(caught.value, SpeechError)
    assert "\n" not in str(caught.value)


def test_char_decode_skips_blank_and_ctc_collapses_repeats() -> None:
    vocab = CharVocab.english()
    h, e, l, o = vocab.encode("helo")  # noqa: E741
    assert vocab.decode([0, h, 0, e, l, l, o, 0]) == "hello"
    assert vocab.decode(collapse([0, h, h, 0, e, l, l, 0, l, o, o, 0], vocab.blank)) == "hello"
    assert vocab.decode(collapse([], vocab.blank)) == ""


def test_decode_rejects_out_of_range_ids() -> None:
    with pytest.raises(TextError, match="outside"):
        CharVocab.english().decode([3, 29])


@pytest.mark.parametrize("vocab", [CharVocab.english(), PhonemeVocab.english()], ids=["char", "phoneme"])
def test_save_load_round_trip(tmp_path: Path, vocab: Vocab) -> None:
    path = tmp_path / "nested" / "vocab.json"
    vocab.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["tokens"] == list(vocab.tokens)
    loaded = type(vocab).load(path)
    assert loaded == vocab and type(loaded) is type(vocab)
    assert type(Vocab.load(path)) is type(vocab)
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temporary left behind


def test_load_refuses_the_wrong_kind(tmp_path: Path) -> None:
    path = tmp_path / "phonemes.json"
    PhonemeVocab.english().save(path)
    with pytest.raises(TextError, match="phoneme vocabulary, expected char"):
        CharVocab.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read"),
        ("[1, 2]", "not a vocabulary"),
        ('{"kind": "char"}', "not a vocabulary"),
        ('{"kind": "char", "tokens": ["a", "b"]}', "must start with the CTC blank"),
        ('{"kind": "char", "tokens": ["<blank>", "a", "a"]}', "duplicate"),
    ],
)
def test_load_reports_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TextError, match=message) as caught:
        CharVocab.load(path)
    assert str(path) in str(caught.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TextError, match="file not found"):
        Vocab.load(tmp_path / "absent.json")


def test_phoneme_vocab_layout() -> None:
    vocab = PhonemeVocab.english()
    assert vocab.pad == 0 and vocab.tokens[0] == PAD
    assert len(PHONEMES) == 15 * 3 + 24
    assert len(vocab) == 1 + len(PHONEMES) + 1 + 4
    assert vocab.tokens[-5:] == (WORD_BOUNDARY, ",", ".", "?", "!")
    assert {"AA0", "AA1", "AA2", "ZH", "NG"} <= set(vocab.tokens)
    assert "AA" not in vocab and "B1" not in vocab


def test_phoneme_round_trip_and_errors() -> None:
    vocab = PhonemeVocab.english()
    phones = ["S", "P", "IY1", "CH", WORD_BOUNDARY, "IH0", "Z", "."]
    ids = vocab.encode(phones)
    assert vocab.decode([*ids, 0, 0]) == phones
    with pytest.raises(TextError, match="phoneme 'IY'"):
        vocab.encode(["S", "IY"])
