"""Beam-search decoding on synthetic CTC posteriors, where the right answer is known by construction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from speech.beam import BeamSearchDecoder, DecoderError
from speech.ctc import GreedyDecoder
from speech.lm import build_lm, spell, write_arpa, write_lexicon
from speech.text import CharVocab

VOCAB = CharVocab.english()
CORPUS = [
    "the cat sat on the mat",
    "the cat sat",
    "a cat sat on a hat",
    "the dog sat on the mat",
    "the cat ate the fish",
    "the bat flew away",
]


@pytest.fixture(scope="module")
def lm_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lm")
    model = build_lm(CORPUS, order=3)
    write_arpa(model, folder / "lm.arpa")
    write_lexicon(model.words, folder / "lexicon.txt")
    return folder / "lm.arpa", folder / "lexicon.txt"


def posteriors(
    text: str, confusions: dict[int, dict[str, float]] | None = None, frames: int = 2
) -> torch.Tensor:
    """(T, V) log-probs spelling ``text``: each character for ``frames`` frames then a blank frame.

    ``confusions`` maps a character position to the probabilities its frames get instead, e.g. a 'c' that
    looks a little more like a 'b'. Every other symbol keeps a small floor, so nothing is impossible.
    """
    rows = []
    for position, char in enumerate(text):
        spread = (confusions or {}).get(position, {char: 0.9})
        for _ in range(frames):
            rows.append(_row(spread))
        rows.append(_row({"<blank>": 0.9}))
    return torch.stack(rows)


def _row(probabilities: dict[str, float]) -> torch.Tensor:
    row = torch.full((len(VOCAB),), 1e-3)
    for token, p in probabilities.items():
        row[VOCAB.tokens.index(token)] = p
    return (row / row.sum()).log()


def batch(*matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (T, V) matrices to one (B, T, V) batch; padding frames are garbage the lengths must hide."""
    longest = max(m.shape[0] for m in matrices)
    out = torch.randn(len(matrices), longest, len(VOCAB)).log_softmax(-1)
    for i, m in enumerate(matrices):
        out[i, : m.shape[0]] = m
    return out, torch.tensor([m.shape[0] for m in matrices])


def test_language_model_fixes_a_confusable_letter(lm_files):
    arpa, lexicon = lm_files
    # "the cat sat" where the acoustics favour "bat": both are words, only the LM knows cats sit
    log_probs, lengths = batch(posteriors("the cat sat", {4: {"b": 0.55, "c": 0.4}}))
    assert GreedyDecoder(VOCAB).decode(log_probs, lengths) == ["the bat sat"]
    assert BeamSearchDecoder(VOCAB, lexicon=lexicon).decode(log_probs, lengths) == ["the bat sat"]
    decoder = BeamSearchDecoder(VOCAB, lm=arpa, lexicon=lexicon, beam_size=32)
    assert decoder.decode(log_probs, lengths) == ["the cat sat"]


def test_lexicon_fixes_a_non_word(lm_files):
    _, lexicon = lm_files
    log_probs, lengths = batch(posteriors("the dog sat", {9: {"x": 0.5, "a": 0.45}}))
    assert GreedyDecoder(VOCAB).decode(log_probs, lengths) == ["the dog sxt"]
    assert BeamSearchDecoder(VOCAB, lexicon=lexicon).decode(log_probs, lengths) == ["the dog sat"]


def test_batch_rows_decode_independently_and_keep_the_last_word(lm_files):
    arpa, lexicon = lm_files
    decoder = BeamSearchDecoder(VOCAB, lm=arpa, lexicon=lexicon)
    texts = ["the cat sat on the mat", "a cat", "the fish "]  # with and without a closing space
    log_probs, lengths = batch(*(posteriors(t) for t in texts))
    assert decoder.decode(log_probs, lengths) == ["the cat sat on the mat", "a cat", "the fish"]
    assert decoder.decode(log_probs[:1], torch.tensor([0])) == [""]


def test_lexicon_free_beam_equals_greedy_on_clean_posteriors():
    texts = ["the quick brown fox", "hello  world", "it's a test", "aa bb"]
    log_probs, lengths = batch(*(posteriors(t) for t in texts))
    decoder = BeamSearchDecoder(VOCAB)
    expected = GreedyDecoder(VOCAB).decode(log_probs, lengths)
    assert expected[0] == "the quick brown fox"
    assert decoder.decode(log_probs, lengths) == [" ".join(t.split()) for t in expected]


def test_character_lm_fixes_a_letter_and_keeps_new_words(tmp_path):
    """Lexicon-free with a character LM: the likelier spelling wins, yet a word it never saw still comes out."""
    write_arpa(build_lm(map(spell, (s.split() for s in CORPUS)), order=5), tmp_path / "chars.arpa")
    decoder = BeamSearchDecoder(VOCAB, lm=tmp_path / "chars.arpa", beam_size=32)
    assert decoder.lm is not None
    log_probs, lengths = batch(
        posteriors("the cat sat", {4: {"b": 0.55, "c": 0.4}}), posteriors("the cow sat on the mat")
    )
    assert GreedyDecoder(VOCAB).decode(log_probs, lengths)[0] == "the bat sat"
    assert decoder.decode(log_probs, lengths) == ["the cat sat", "the cow sat on the mat"]
    write_lexicon(["cat", "sat"], tmp_path / "lexicon.txt")
    with pytest.raises(DecoderError, match="without a lexicon"):
        BeamSearchDecoder(VOCAB, lm=tmp_path / "chars.arpa", lexicon=tmp_path / "lexicon.txt")


def test_lexicon_free_ignores_a_word_lm_with_a_warning(lm_files, caplog):
    arpa, _ = lm_files
    log_probs, lengths = batch(posteriors("the bat sat"))
    with caplog.at_level(logging.WARNING, logger="speech.beam"):
        decoder = BeamSearchDecoder(VOCAB, lm=arpa)
    assert decoder.lm is None
    assert "lexicon-free" in caplog.text and str(arpa) in caplog.text
    assert decoder.decode(log_probs, lengths) == ["the bat sat"]


def test_missing_or_malformed_language_model_is_a_clear_error(tmp_path, lm_files):
    _, lexicon = lm_files
    missing = tmp_path / "nowhere.arpa"
    with pytest.raises(DecoderError, match=r"nowhere\.arpa: language model file not found"):
        BeamSearchDecoder(VOCAB, lm=missing, lexicon=lexicon)
    garbage = tmp_path / "garbage.arpa"
    garbage.write_text("\n\nthis is not a language model\n")
    with pytest.raises(DecoderError, match=r"garbage\.arpa: not an ARPA language model"):
        BeamSearchDecoder(VOCAB, lm=garbage, lexicon=lexicon)
    (tmp_path / "empty.arpa").write_text("")
    with pytest.raises(DecoderError, match=r"empty\.arpa: .*empty"):
        BeamSearchDecoder(VOCAB, lm=tmp_path / "empty.arpa", lexicon=lexicon)
    unigram = tmp_path / "unigram.arpa"
    write_arpa(build_lm(CORPUS, order=1), unigram)
    with pytest.raises(DecoderError, match=r"unigram\.arpa: a unigram model"):
        BeamSearchDecoder(VOCAB, lm=unigram, lexicon=lexicon)
    broken = tmp_path / "broken.arpa"
    broken.write_text("\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1\t<unk>\n")
    with pytest.raises(DecoderError, match=r"broken\.arpa: cannot be loaded"):
        BeamSearchDecoder(VOCAB, lm=broken, lexicon=lexicon)


def test_bad_lexicon_is_a_clear_error(tmp_path, lm_files):
    arpa, _ = lm_files
    cases = {
        "missing.txt": (None, r"missing\.txt: lexicon file not found"),
        "blank.txt": ("cat c a t |\n\nsat s a t |\n", r"blank\.txt:2: blank line"),
        "alone.txt": ("cat c a t |\nsat\n", r"alone\.txt:2: word 'sat' has no spelling"),
        "token.txt": ("cat c a t |\nsat s A t |\n", r"token\.txt:2: .*'A', not in the vocabulary"),
    }
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_text(content)
        with pytest.raises(DecoderError, match=message):
            BeamSearchDecoder(VOCAB, lm=arpa, lexicon=tmp_path / name)


def test_rejects_mismatched_inputs():
    decoder = BeamSearchDecoder(VOCAB)
    with pytest.raises(DecoderError, match="29"):
        decoder.decode(torch.zeros(1, 5, 10), torch.tensor([5]))
    with pytest.raises(DecoderError, match="lengths"):
        decoder.decode(torch.zeros(2, 5, 29), torch.tensor([5]))
    with pytest.raises(DecoderError, match="space"):
        BeamSearchDecoder(CharVocab(["<blank>", "a", "b"]))
