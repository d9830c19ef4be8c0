"""Word n-gram language models: counting, interpolated modified Kneser-Ney estimation, ARPA files.

Why here and not KenLM's ``lmplz``: that binary is not installable everywhere the toolkit runs, while the
decoder (flashlight, through torchaudio) only needs an ARPA file. The estimate follows Chen & Goodman (1998)
as lmplz does: adjusted (continuation) counts for the lower orders, three discounts per order from the
count-of-counts, interpolation down to a uniform distribution over the vocabulary (``<unk>`` included), and
pruned n-grams' mass moved into their context's backoff weight so every distribution still sums to one.

Typical use::

    sentences = read_corpus(["train.jsonl", "extra.txt"])
    model = estimate_kneser_ney(count_ngrams(sentences, order=3))
    write_arpa(model, "lm.arpa")
    write_lexicon(model.words, "lexicon.txt")
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path

from speech.audio import atomic_output
from speech.errors import SpeechError
from speech.text.normalize import normalize_text
from speech.text.vocab import WORD_BOUNDARY

log = logging.getLogger(__name__)

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
SPECIAL_WORDS = (UNK, BOS, EOS)
# ARPA's stand-in for log10(0): <s> is never predicted, only conditioned on
LOG_ZERO = -99.0
# Chen & Goodman's discounts need four count-of-counts; tiny corpora lack them, so fall back to these
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
_BLOCK_LINES = 50_000  # lines read ahead per file, bounding memory on large corpora
_CHUNK_LINES = 2_000  # lines per task sent to a worker process

NGram = tuple[str, ...]


class LMError(SpeechError):
    """A corpus or language-model file that cannot be used; the message names the file (and line)."""


@dataclass
class NgramModel:
    """An estimated back-off model: per order, n-gram -> (log10 probability, log10 backoff or None).

    Backoff weights exist for orders below the highest one; ``None`` means 0 (the n-gram is never a context).
    """

    entries: list[dict[NGram, tuple[float, float | None]]]

    @property
    def order(self) -> int:
        return len(self.entries)

    @property
    def counts(self) -> list[int]:
        """Entries per order, as the ARPA header states them."""
        return [len(level) for level in self.entries]

    @property
    def words(self) -> list[str]:
        """The vocabulary without ``<s>``, ``</s>`` and ``<unk>``, sorted: what a lexicon needs to spell."""
        return sorted(g[0] for g in self.entries[0] if g[0] not in SPECIAL_WORDS)

    def log10_prob(self, word: str, history: Sequence[str] = ()) -> float:
        """log10 p(word | history) with ARPA back-off; unknown words (either side) read as ``<unk>``.

        ``history`` is the preceding words, oldest first; start it with ``<s>`` for a sentence start.
        """
        unigrams = self.entries[0]
        known = [w if (w,) in unigrams else UNK for w in history]
        context = tuple(known[max(0, len(known) - self.order + 1) :]) if self.order > 1 else ()
        target = word if (word,) in unigrams else UNK
        backoff = 0.0
        while True:
            entry = self.entries[len(context)].get((*context, target))
            if entry is not None:
                return backoff + entry[0]
            if not context:  # a model without <unk> has nothing to say about an unknown word
                return backoff + LOG_ZERO
            weight = self.entries[len(context) - 1].get(context)
            if weight is not None and weight[1] is not None:
                backoff += weight[1]
            context = context[1:]


# --------------------------------------------------------------------------------------------------------------
# Corpus


@lru_cache(maxsize=1 << 16)
def _normalized_words(line: str) -> tuple[str, ...]:
    """Manifests repeat prompts a lot; caching the (slow, regex-heavy) normalisation pays off."""
    return tuple(normalize_text(line).split())


def _normalize_block(lines: list[str]) -> list[tuple[str, ...]]:
    return [_normalized_words(line) for line in lines]


def _raw_texts(path: Path) -> Iterator[str]:
    """The text of each non-empty line (a manifest's "text" field), errors naming the file and line."""
    is_manifest = path.suffix.lower() == ".jsonl"
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                if line.strip():
                    yield _manifest_text(line, path, number) if is_manifest else line
    except FileNotFoundError:
        raise LMError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise LMError(f"{path}: is a directory, not a text file") from None
    except UnicodeDecodeError as error:
        raise LMError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise LMError(f"{path}: cannot read ({error.strerror or error})") from None


def read_corpus(paths: Iterable[str | os.PathLike], jobs: int = 1) -> Iterator[tuple[str, ...]]:
    """Normalised sentences (as word tuples) from text files (one per line) or JSONL manifests ("text").

    Empty lines and lines that normalise to nothing are skipped; anything unreadable raises :class:`LMError`
    naming the file and line, so a typo in a manifest is found rather than silently dropped. Normalisation
    (~80 us a line) dominates building an LM, so ``jobs`` > 1 spreads it over that many processes.
    """
    executor = ProcessPoolExecutor(jobs) if jobs > 1 else None
    try:
        for path in map(Path, paths):
            texts = _raw_texts(path)
            while block := list(islice(texts, _BLOCK_LINES)):
                unique = list(dict.fromkeys(block))
                if executor is None:
                    words = _normalize_block(unique)
                else:
                    chunks = [unique[i : i + _CHUNK_LINES] for i in range(0, len(unique), _CHUNK_LINES)]
                    words = [w for chunk in executor.map(_normalize_block, chunks) for w in chunk]
                normalized = dict(zip(unique, words, strict=True))
                yield from filter(None, map(normalized.__getitem__, block))
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)


def _manifest_text(line: str, path: Path, number: int) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise LMError(f"{path}:{number}: not valid JSON ({error.msg})") from None
    text = record.get("text") if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise LMError(f"{path}:{number}: manifest line has no string 'text' field")
    return text


# --------------------------------------------------------------------------------------------------------------
# Counting and estimation


def count_ngrams(sentences: Iterable[Sequence[str] | str], order: int = 3) -> list[Counter[NGram]]:
    """Raw counts of every 1..``order``-gram over sentences padded with ``<s>`` and ``</s>``.

    A sentence is a sequence of words, or a string split on whitespace (already normalised either way).
    """
    if order < 1:
        raise LMError(f"n-gram order must be at least 1, got {order}")
    counts: list[Counter[NGram]] = [Counter() for _ in range(order)]
    sentences_seen = 0
    for sentence in sentences:
        words = sentence.split() if isinstance(sentence, str) else sentence
        if not words:
            continue
        tokens = (BOS, *words, EOS)
        for n, counter in enumerate(counts, 1):
            counter.update(zip(*(tokens[i:] for i in range(n)), strict=False))
        sentences_seen += 1
    if not sentences_seen:
        raise LMError("no sentences to count: the corpus is empty after normalisation")
    log.debug("counted %d sentences: %s n-grams", sentences_seen, [len(c) for c in counts])
    return counts


def _adjusted_counts(counts: list[Counter[NGram]]) -> list[dict[NGram, int]]:
    """Kneser-Ney's counts: raw for the top order and for n-grams that start with <s> (nothing can precede
    them), otherwise the number of distinct words seen before the n-gram."""
    adjusted: list[dict[NGram, int]] = [{} for _ in counts]
    adjusted[-1] = counts[-1]
    for n in range(len(counts) - 1, 0, -1):
        continuation = Counter(g[1:] for g in counts[n])
        adjusted[n - 1] = {
            g: raw if g[0] == BOS else (continuation.get(g) or raw) for g, raw in counts[n - 1].items()
        }
    return adjusted


def _discounts(adjusted: Iterable[int], order: int) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from the count-of-counts n1..n4 (fallbacks where a corpus is too small)."""
    n1, n2, n3, n4 = (Counter(c for c in adjusted if c <= 4).get(k, 0) for k in (1, 2, 3, 4))
    estimates = list(FALLBACK_DISCOUNTS)
    y = n1 / (n1 + 2 * n2) if n1 else 0.0
    candidates = (
        1 - 2 * y * n2 / n1 if n1 else math.nan,
        2 - 3 * y * n3 / n2 if n2 else math.nan,
        3 - 4 * y * n4 / n3 if n3 else math.nan,
    )
    for k, value in enumerate(candidates):
        if 0 < value < k + 1:  # a discount must stay positive and below the count it discounts
            estimates[k] = value
        else:
            log.info(
                "order %d: too few counts to estimate discount D%d, using %s", order, k + 1, estimates[k]
            )
    log.debug("order %d discounts %.4f %.4f %.4f (n1..n4 %d %d %d %d)", order, *estimates, n1, n2, n3, n4)
    return estimates[0], estimates[1], estimates[2]


def estimate_kneser_ney(counts: list[Counter[NGram]], min_count: int = 1) -> NgramModel:
    """Interpolated modified Kneser-Ney from :func:`count_ngrams` output.

    ``min_count`` prunes n-grams of order 2 and up seen fewer times (as lmplz's ``--prune``); unigrams are
    always kept so the vocabulary does not depend on it. Discounts come from the unpruned counts.
    """
    if min_count < 1:
        raise LMError(f"--min-count must be at least 1, got {min_count}")
    order = len(counts)
    adjusted = _adjusted_counts(counts)
    probabilities: list[dict[NGram, float]] = []
    gammas: list[dict[NGram, float]] = []  # per order n: context (n-1 words) -> interpolation weight
    for n in range(1, order + 1):
        level, raw = adjusted[n - 1], counts[n - 1]
        d1, d2, d3 = _discounts(level.values(), n)
        totals: defaultdict[NGram, int] = defaultdict(int)
        for g, count in level.items():
            if g != (BOS,):
                totals[g[:-1]] += count
        kept: dict[NGram, float] = {}
        kept_mass: defaultdict[NGram, float] = defaultdict(float)
        for g, count in level.items():
            if g == (BOS,) or (n > 1 and raw[g] < min_count):
                continue
            discount = d1 if count == 1 else d2 if count == 2 else d3
            value = (count - discount) / totals[g[:-1]]
            kept[g] = value
            kept_mass[g[:-1]] += value
        gamma = {h: max(0.0, 1.0 - kept_mass.get(h, 0.0)) for h in totals}
        if n == 1:
            kept.setdefault((UNK,), 0.0)
            uniform = gamma[()] / len(kept)
            probabilities.append({g: value + uniform for g, value in kept.items()})
        else:
            lower = probabilities[-1]
            probabilities.append({g: value + gamma[g[:-1]] * lower[g[1:]] for g, value in kept.items()})
        gammas.append(gamma)
        log.debug("order %d: %d n-grams kept of %d", n, len(kept), len(level))

    entries: list[dict[NGram, tuple[float, float | None]]] = []
    for n, level in enumerate(probabilities, 1):
        contexts = gammas[n] if n < order else {}
        entries.append(
            {g: (_log10(p), _log10(contexts[g]) if g in contexts else None) for g, p in level.items()}
        )
    bos_gamma = gammas[1].get((BOS,)) if order > 1 else None
    entries[0][(BOS,)] = (LOG_ZERO, None if bos_gamma is None else _log10(bos_gamma))
    return NgramModel(entries)


def _log10(value: float) -> float:
    return math.log10(value) if value > 0 else LOG_ZERO


def spell(sentence: Sequence[str]) -> tuple[str, ...]:
    """A sentence as the recognizer's characters, words joined by the boundary token (``t h e | c a t``).

    An n-gram model over these is a character LM: lexicon-free beam search can use it, and it scores words it
    never saw by their spelling instead of as ``<unk>``.
    """
    return tuple(WORD_BOUNDARY.join(sentence))


def build_lm(sentences: Iterable[Sequence[str] | str], order: int = 3, min_count: int = 1) -> NgramModel:
    """Count and estimate in one call."""
    return estimate_kneser_ney(count_ngrams(sentences, order), min_count=min_count)


# --------------------------------------------------------------------------------------------------------------
# Files


def _format(value: float) -> str:
    return "-99" if value <= LOG_ZERO else f"{value:.6f}"


def _unigram_order(g: NGram) -> tuple[int, str]:
    return (SPECIAL_WORDS.index(g[0]) if g[0] in SPECIAL_WORDS else len(SPECIAL_WORDS), g[0])


def write_arpa(model: NgramModel, path: str | os.PathLike) -> None:
    """Write the model as an ARPA file, atomically (a crash never leaves a half-written LM behind)."""
    with atomic_output(path) as stream:
        header = ["", "\\data\\", *(f"ngram {n}={c}" for n, c in enumerate(model.counts, 1)), ""]
        stream.write(("\n".join(header) + "\n").encode("utf-8"))
        for n, level in enumerate(model.entries, 1):
            keys = sorted(level, key=_unigram_order) if n == 1 else level
            lines = [f"\\{n}-grams:"]
            for g in keys:
                logprob, backoff = level[g]
                text = f"{_format(logprob)}\t{' '.join(g)}"
                lines.append(text if backoff is None else f"{text}\t{_format(backoff)}")
            lines.append("")
            stream.write(("\n".join(lines) + "\n").encode("utf-8"))
        stream.write(b"\\end\\\n")
    log.info("wrote %s (order %d, %s n-grams)", path, model.order, "/".join(map(str, model.counts)))


def read_arpa(path: str | os.PathLike) -> NgramModel:
    """Load an ARPA file (checking the header counts against the sections); raises :class:`LMError`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LMError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LMError(f"{path}: cannot read ARPA file ({error})") from None
    declared: dict[int, int] = {}
    entries: list[dict[NGram, tuple[float, float | None]]] = []
    section = None  # "data", an order, or "end"
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        where = f"{path}:{number}"
        if section is None:
            if line != "\\data\\":
                raise LMError(f"{where}: not an ARPA file (expected '\\data\\', got {line[:40]!r})")
            section = "data"
        elif line == "\\end\\":
            section = "end"
            break
        elif line.startswith("\\") and line.endswith("-grams:"):
            try:
                section = int(line[1:-7])
            except ValueError:
                raise LMError(f"{where}: bad section header {line!r}") from None
            if section != len(entries) + 1 or section not in declared:
                raise LMError(f"{where}: unexpected section {line!r}")
            entries.append({})
        elif section == "data":
            key, _, value = line.partition("=")
            if not key.startswith("ngram ") or not value.strip().isdigit():
                raise LMError(f"{where}: bad header line {line!r}")
            declared[int(key[6:])] = int(value)
        else:
            fields = line.split()
            n = int(section)  # type: ignore[arg-type]
            if len(fields) not in (n + 1, n + 2):
                raise LMError(f"{where}: expected a {n}-gram line, got {line[:60]!r}")
            try:
                logprob = float(fields[0])
                backoff = float(fields[n + 1]) if len(fields) == n + 2 else None
            except ValueError:
                raise LMError(f"{where}: bad number in {line[:60]!r}") from None
            entries[-1][tuple(fields[1 : n + 1])] = (logprob, backoff)
    if section != "end":
        raise LMError(f"{path}: ARPA file is truncated (no '\\end\\')")
    if sorted(declared) != list(range(1, len(entries) + 1)):
        raise LMError(f"{path}: header declares orders {sorted(declared)} but has {len(entries)} sections")
    for n, level in enumerate(entries, 1):
        if declared[n] != len(level):
            raise LMError(f"{path}: header says ngram {n}={declared[n]} but the section has {len(level)}")
    return NgramModel(entries)


def write_lexicon(words: Iterable[str], path: str | os.PathLike) -> None:
    """A flashlight lexicon: each word, its letters, then the word-boundary token (``hello h e l l o |``)."""
    lines = []
    for word in words:
        if not word or any(c.isspace() for c in word) or word in SPECIAL_WORDS:
            raise LMError(f"{path}: cannot spell {word!r} in a lexicon")
        lines.append(f"{word} {' '.join(word)} {WORD_BOUNDARY}\n")
    with atomic_output(path) as stream:
        stream.write("".join(lines).encode("utf-8"))
    log.info("wrote %s (%d words)", path, len(lines))
