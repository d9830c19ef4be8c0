"""CTC beam-search decoding with an n-gram language model (flashlight, via torchaudio).

Greedy decoding (:mod:`speech.decode`) trusts the acoustic model frame by frame; a beam search keeps the
``beam_size`` best prefixes and lets an n-gram LM (``tools/build_lm.py``) prefer likely text, which fixes
many near-miss spellings. Two kinds of LM:

* a **character** LM (letters and ``|``), lexicon-free: any word can come out, known spellings and word
  sequences are preferred. Open vocabulary, and it loads in milliseconds: the shipped model's choice.
* a **word** LM with a lexicon: only lexicon words come out. Stronger on a closed vocabulary, but building
  the lexicon's trie takes seconds per 100k words, and a word it lacks can never be recognised.

The character vocabulary's space is the word boundary: it is handed to flashlight as its ``|`` token, so a
lexicon spells ``hello h e l l o |`` (what :func:`speech.lm.write_lexicon` writes).
"""

from __future__ import annotations

import gzip
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from speech.ctc import as_array
from speech.errors import SpeechError
from speech.text.vocab import BLANK, WORD_BOUNDARY, CharVocab

log = logging.getLogger(__name__)

KENLM_BINARY_MAGIC = b"mmap lm "
GZIP_MAGIC = b"\x1f\x8b"
# log-probability of everything but the word boundary on the frame appended after each utterance
_CLOSING_FLOOR = -1e4


class DecoderError(SpeechError):
    """A language model, lexicon or decoder setting that cannot be used; the message names the file."""


class BeamSearchDecoder:
    """CTC beam search over a :class:`CharVocab`'s posteriors (flashlight's, best path per prefix).

    Modes:

    * ``lexicon`` given: only words in the lexicon are produced; with ``lm`` each word is scored by the word
      n-gram model (``lm_weight`` times its log10 probability, plus ``word_score`` per word); without ``lm``
      the lexicon alone constrains the search.
    * ``lexicon=None`` (lexicon-free): a beam search over characters, scored by ``lm`` when it is a
      character LM (its vocabulary is the decoder's tokens). Flashlight's lexicon-free decoder queries the
      LM once per *character*, so a word LM there would score every letter as ``<unk>`` and only punish
      output length: a word LM passed without a lexicon is ignored (with a warning). Without an LM this
      gives the greedy result on clean posteriors.

    ``beam_threshold`` prunes prefixes scoring that far below the best one; ``lm_weight`` and ``word_score``
    are worth tuning on held-out data. Files are checked before flashlight sees them, so a missing or
    malformed ARPA/lexicon raises :class:`DecoderError` naming the file.
    """

    def __init__(
        self,
        vocab: CharVocab,
        lm: str | os.PathLike | None = None,
        lexicon: str | os.PathLike | None = None,
        beam_size: int = 32,
        lm_weight: float = 2.0,
        word_score: float = 0.0,
        beam_threshold: float = 50.0,
    ):
        from torchaudio.models.decoder import ctc_decoder  # flashlight-text is only needed here

        if beam_size < 1:
            raise DecoderError(f"beam size must be at least 1, got {beam_size}")
        if " " not in vocab or WORD_BOUNDARY in vocab or vocab.tokens[0] != BLANK:
            raise DecoderError(
                f"beam search needs a character vocabulary with {BLANK!r} at 0 and a space (the word "
                f"boundary), and no {WORD_BOUNDARY!r} token"
            )
        self.vocab = vocab
        self.beam_threshold = beam_threshold
        self.tokens = [WORD_BOUNDARY if t == " " else t for t in vocab.tokens]
        self.lexicon = Path(lexicon) if lexicon is not None else None
        self.lm = Path(lm) if lm is not None else None
        if self.lm is not None:
            check_arpa(self.lm)
        if self.lexicon is None and self.lm is not None and not is_character_lm(self.lm, self.tokens):
            log.warning(
                "%s: a word LM cannot guide lexicon-free decoding; decoding without it (pass a lexicon)",
                self.lm,
            )
            self.lm = None
        if self.lexicon is not None:
            check_lexicon(self.lexicon, self.tokens)
            if self.lm is not None and is_character_lm(self.lm, self.tokens):
                raise DecoderError(f"{self.lm}: a character LM is used without a lexicon, not with {lexicon}")
        try:
            with _quiet_stderr(), tempfile.TemporaryDirectory() as scratch:  # KenLM prints a progress bar
                self._decoder = ctc_decoder(
                    lexicon=str(self.lexicon) if self.lexicon is not None else None,
                    tokens=self.tokens,
                    lm=str(self.lm) if self.lm is not None else None,
                    lm_dict=self._token_dictionary(Path(scratch)) if self.lexicon is None else None,
                    beam_size=beam_size,
                    beam_threshold=beam_threshold,
                    lm_weight=lm_weight,
                    word_score=word_score,
                    blank_token=BLANK,
                    sil_token=WORD_BOUNDARY,
                )
        except (RuntimeError, ValueError) as error:
            # the checks above catch the usual mistakes; what is left is KenLM refusing the model's body
            source = self.lm if self.lm is not None else self.lexicon
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            raise DecoderError(f"{source}: cannot be loaded by the decoder ({reason})") from None
        self.boundary = self.tokens.index(WORD_BOUNDARY)

    def _token_dictionary(self, folder: Path) -> str:
        """The LM's vocabulary in token order, so that LM word i is token i.

        Without it torchaudio builds the lexicon-free LM vocabulary from an unordered map, and a character LM
        would score each token as some other token.
        """
        path = folder / "tokens.txt"
        path.write_text("".join(f"{token}\n" for token in self.tokens), encoding="utf-8")
        return str(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lm={self.lm}, lexicon={self.lexicon})"

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        """Best transcript per utterance of ``log_probs`` (B, T, V) with valid ``lengths`` (B,) frames, numpy
        arrays or tensors.

        Returns normalised text: the words joined by single spaces.
        """
        if log_probs.ndim != 3 or log_probs.shape[-1] != len(self.vocab):
            shape = tuple(log_probs.shape)
            raise DecoderError(
                f"expected log-probabilities shaped (batch, frames, {len(self.vocab)}), got {shape}"
            )
        if lengths.ndim != 1 or lengths.shape[0] != log_probs.shape[0]:
            raise DecoderError(f"expected {log_probs.shape[0]} lengths, got shape {tuple(lengths.shape)}")
        emissions = torch.as_tensor(as_array(log_probs), dtype=torch.float32)
        lengths = torch.as_tensor(as_array(lengths)).long().clamp(0, emissions.shape[1])
        if self.lexicon is not None:
            emissions, lengths = self._close_last_word(emissions, lengths)
        emissions = emissions.contiguous()
        texts = []
        for row, length in enumerate(lengths.tolist()):
            if length == 0:
                texts.append("")
                continue
            hypotheses = self._decoder(emissions[row : row + 1], lengths[row : row + 1])[0]
            texts.append(self._text(hypotheses[0]) if hypotheses else "")
        return texts

    def _close_last_word(self, emissions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Append a frame that is surely the word boundary after each utterance.

        A lexicon spells each word with a closing ``|`` and flashlight only emits a word once that token is
        read; CTC models rarely output a space after the last word, which would lose it. The frame costs
        nothing for a prefix that ends a word and rules out one stuck inside a word.
        """
        batch, frames, size = emissions.shape
        closed = torch.full((batch, frames + 1, size), _CLOSING_FLOOR, dtype=torch.float32)
        closed[:, :frames] = emissions
        rows = torch.arange(batch)
        closed[rows, lengths] = _CLOSING_FLOOR
        closed[rows, lengths, self.boundary] = 0.0
        return closed, lengths + (lengths > 0).long()

    def _text(self, hypothesis) -> str:
        if self.lexicon is not None:
            return " ".join(hypothesis.words)
        tokens = self._decoder.idxs_to_tokens(hypothesis.tokens)
        return " ".join("".join(" " if t == WORD_BOUNDARY else t for t in tokens).split())


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C++ code writing to file descriptor 2 (Python's own errors are raised, not printed, meanwhile)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_file(path: Path, what: str) -> None:
    if not path.exists():
        raise DecoderError(f"{path}: {what} file not found")
    if not path.is_file():
        raise DecoderError(f"{path}: is not a file ({what} expected)")
    if path.stat().st_size == 0:
        raise DecoderError(f"{path}: {what} file is empty")


def check_arpa(path: str | os.PathLike) -> None:
    """Fail clearly, before KenLM does, unless ``path`` looks like a usable LM (ARPA, gzipped ARPA or KenLM
    binary) of order 2 or more: KenLM's own errors are long C++ traces, and it rejects unigram models."""
    path = Path(path)
    _check_file(path, "language model")
    try:
        with path.open("rb") as stream:
            magic = stream.read(8)
        if magic.startswith(KENLM_BINARY_MAGIC):
            return
        opener = gzip.open if magic.startswith(GZIP_MAGIC) else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
            orders = _arpa_header(stream, path)
    except (OSError, EOFError) as error:
        raise DecoderError(f"{path}: cannot read language model ({error})") from None
    if max(orders) < 2:
        raise DecoderError(f"{path}: a unigram model cannot be used; the decoder needs order 2 or more")


def is_character_lm(path: str | os.PathLike, tokens: list[str]) -> bool:
    """True when an ARPA model's words are all decoder tokens (a character LM, for lexicon-free search)."""
    path = Path(path)
    with path.open("rb") as stream:
        magic = stream.read(8)
    if magic.startswith(KENLM_BINARY_MAGIC):
        return False  # a binary model's vocabulary is not readable here; binary LMs are word LMs in practice
    opener = gzip.open if magic.startswith(GZIP_MAGIC) else open
    specials = {"<s>", "</s>", "<unk>"}
    known, seen = set(tokens) | specials, set()
    with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
        lines = (line.strip() for line in stream)
        for line in lines:
            if line == "\\1-grams:":
                break
        for line in lines:
            if line.startswith("\\"):
                break
            fields = line.split()
            if len(fields) >= 2:
                if fields[1] not in known:
                    return False  # a word: stop reading at the first one
                seen.add(fields[1])
    return bool(seen - specials)


def _arpa_header(stream: Iterable[str], path: Path) -> dict[int, int]:
    """The ``ngram N=count`` lines under ``\\data\\``, which must be the first non-empty line."""
    lines = (line.strip() for line in stream)
    first = next((line for line in lines if line), None)
    if first is None:
        raise DecoderError(f"{path}: language model file is empty")
    if first != "\\data\\":
        raise DecoderError(f"{path}: not an ARPA language model (first line {first[:40]!r}, not '\\data\\')")
    orders: dict[int, int] = {}
    for line in lines:
        if not line and not orders:
            continue
        if not line.startswith("ngram "):
            break
        order, _, count = line[6:].partition("=")
        if not (order.strip().isdigit() and count.strip().isdigit()):
            raise DecoderError(f"{path}: bad ARPA header line {line!r}")
        orders[int(order)] = int(count)
    if not orders:
        raise DecoderError(f"{path}: ARPA file has no 'ngram N=count' lines under '\\data\\'")
    return orders


def check_lexicon(path: str | os.PathLike, tokens: list[str]) -> int:
    """Validate a flashlight lexicon against the decoder's tokens; returns the number of words.

    Flashlight rejects a blank line or a word without a spelling with a bare exception, and a spelling token
    outside the vocabulary would only surface deep inside the trie build; here each names file and line.
    """
    path = Path(path)
    _check_file(path, "lexicon")
    known = set(tokens)
    words = 0
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                fields = line.split()
                where = f"{path}:{number}"
                if not fields:
                    raise DecoderError(
                        f"{where}: blank line (flashlight cannot read lexicons with blank lines)"
                    )
                if len(fields) < 2:
                    raise DecoderError(
                        f"{where}: word {fields[0]!r} has no spelling (expected 'word w o r d |')"
                    )
                unknown = [t for t in fields[1:] if t not in known]
                if unknown:
                    raise DecoderError(
                        f"{where}: spelling of {fields[0]!r} uses {unknown[0]!r}, not in the vocabulary"
                    )
                words += 1
    except UnicodeDecodeError as error:
        raise DecoderError(f"{path}: lexicon is not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise DecoderError(f"{path}: cannot read lexicon ({error.strerror or error})") from None
    return words
