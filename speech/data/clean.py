"""From an imported corpus to training material: clean, resample, split, and say what was left out.

A recording a user hands in has problems an importer cannot see from the index: a clip that decodes to
nothing past its header, one of three seconds of silence, a 40-second paragraph that would blow a batch, a
transcript of only punctuation, a clip at 8 kHz among 22 kHz ones. Training on those wastes hours or fails
half-way, so every utterance is decoded here once, checked, and written again at the toolkit's sample rate (so
every later stage reads one rate and the data folder stands alone). Each item left out is reported with its
reason and counted by kind; only a corpus with too little left to train on stops the run.

The split holds out test and validation utterances. Where speakers are known (three or more), whole test
speakers are held out, so the score says how the model does on voices it never heard; otherwise utterances
are held out at random, seeded.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speech.audio import AudioError, atomic_output, read_audio, resample, write_audio
from speech.data.importers import CorpusError, import_corpus
from speech.data.manifest import Utterance, write_manifest
from speech.features import FeatureConfig
from speech.text.normalize import normalize_text

logger = logging.getLogger(__name__)

SILENT_PEAK = 10 ** (-50 / 20)  # a clip whose loudest sample is under -50 dBFS holds no speech to learn


@dataclass(frozen=True)
class Limits:
    """What a usable utterance is, and how much a run needs. A voice needs clips at its own rate or above
    (upsampling adds no treble) and shorter clips than a recognizer (its decoder runs frame by frame)."""

    min_seconds: float = 0.5
    max_seconds: float = 20.0
    min_rate: int = 0  # source sample rates below this are left out (0: any rate, resampled)
    min_utterances: int = 20  # the training split must keep at least this many


@dataclass
class Prepared:
    """A cleaned, split corpus: the splits' utterances and the per-item record of what was left out."""

    splits: dict[str, list[Utterance]]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    entries: int = 0  # entries the importer saw (kept + skipped)
    rates: Counter[int] = field(default_factory=Counter)  # source sample rates of the kept clips
    split_rule: str = ""


def skip_kind(reason: str) -> str:
    """The kind of a skip reason, without the item's particulars, for the per-kind counts:
    "duplicate id 'LJ001-0002' (the first one is kept)" -> "duplicate id"."""
    kind = re.split(r" '| \(|: |; ", reason, maxsplit=1)[0].strip(" ,.")
    return re.sub(r" (for|at|of|in|is)$", "", kind) or reason


def skip_summary(skipped: Sequence[tuple[str, str]]) -> str:
    """ "12 skipped: 5 no transcript, 4 too short, 3 not UTF-8 text" (most common first)."""
    if not skipped:
        return "none skipped"
    counts = Counter(skip_kind(reason) for _, reason in skipped)
    return f"{len(skipped)} skipped: " + ", ".join(f"{count} {kind}" for kind, count in counts.most_common())


def _file_name(id: str) -> str:
    """An utterance id as a file name: ids from Kaldi or CSV files may hold '/' or spaces."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", id).strip("._") or "utterance"


def clean(
    utterances: Sequence[Utterance],
    out_dir: Path,
    limits: Limits,
    sample_rate: int = FeatureConfig.sample_rate,
    progress: Callable[[], object] | None = None,
) -> tuple[list[Utterance], list[tuple[str, str]], Counter[int]]:
    """Decode, check and rewrite each utterance as mono FLAC at ``sample_rate`` under ``out_dir/audio``.

    Returns the kept utterances (pointing at the new files, offsets gone), the ``(audio or id, reason)`` of
    each one left out, and how many kept clips came at each source rate.
    """
    kept: list[Utterance] = []
    skipped: list[tuple[str, str]] = []
    rates: Counter[int] = Counter()
    names: set[str] = set()
    for utterance in utterances:
        if progress:
            progress()
        where = utterance.audio if not utterance.offset else f"{utterance.audio}@{utterance.offset:.2f}s"
        try:
            duration = utterance.duration if utterance.offset else None
            samples, rate = read_audio(utterance.audio, offset=utterance.offset, duration=duration)
        except AudioError as error:
            skipped.append((where, error.problem))
            continue
        seconds = len(samples) / rate
        if rate < limits.min_rate:
            reason = f"sample rate too low: {rate} Hz, under the {limits.min_rate} Hz this model needs"
        elif seconds < limits.min_seconds:
            reason = f"too short: {seconds:.2f} s, under {limits.min_seconds:g} s"
        elif seconds > limits.max_seconds:
            reason = f"too long: {seconds:.1f} s, over {limits.max_seconds:g} s (split it into sentences)"
        elif float(np.abs(samples).max()) < SILENT_PEAK:
            reason = f"silent: no sample reaches {20 * np.log10(SILENT_PEAK):.0f} dBFS"
        elif not normalize_text(utterance.text):
            reason = f"nothing to say: the transcript '{utterance.text}' has no words"
        else:
            reason = ""
        if reason:
            skipped.append((where, reason))
            continue
        name = _file_name(utterance.id)
        while name in names:  # two ids that differ only in characters a file name cannot hold
            name += "_"
        names.add(name)
        path = (out_dir / "audio" / f"{name}.flac").absolute()
        write_audio(path, resample(samples, rate, sample_rate), sample_rate)
        rates[rate] += 1
        kept.append(Utterance(utterance.id, str(path), round(seconds, 6), utterance.text, utterance.speaker))
    return kept, skipped, rates


def _held_out(count: int, share: float, least: int, most: int) -> int:
    return min(most, max(least, round(share * count)))


def split(
    utterances: Sequence[Utterance], seed: int = 0, by_speaker: bool = True
) -> tuple[dict[str, list[Utterance]], str]:
    """``train``, ``valid`` and ``test`` splits, and a sentence saying how they were drawn.

    Test: 10% (2 to 100 utterances), or with three or more known speakers and ``by_speaker``, whole speakers
    (drawn at random until they hold 10%, two speakers always left to train on). Validation: 5% of the rest (2
    to 50), from the training speakers. Seeded, and independent of the order the importer listed files in.
    """
    rng = random.Random(seed)
    pool = sorted(utterances, key=lambda utterance: utterance.id)
    speakers = sorted({utterance.speaker for utterance in pool if utterance.speaker})
    if by_speaker and len(speakers) >= 3 and all(utterance.speaker for utterance in pool):
        rng.shuffle(speakers)
        held: list[str] = []
        test: list[Utterance] = []
        for speaker in speakers[:-2]:
            if len(test) >= 0.1 * len(pool):
                break
            held.append(speaker)
            test += [utterance for utterance in pool if utterance.speaker == speaker]
        rest = [utterance for utterance in pool if utterance.speaker not in held]
        rule = (
            f"by speaker: {', '.join(sorted(held))} held out for testing, "
            f"{len(speakers) - len(held)} speakers to train on"
        )
    else:
        rng.shuffle(pool)
        count = _held_out(len(pool), 0.1, 2, 100)
        test, rest = pool[:count], pool[count:]
        known = f"{len(speakers)} speaker{'s' if len(speakers) != 1 else ''} known"
        rule = f"by utterance ({known}): the test sentences are new, their speakers are not"
    rest = list(rest)
    rng.shuffle(rest)
    count = _held_out(len(rest), 0.05, 2, 50)
    return {"train": rest[count:], "valid": rest[:count], "test": test}, rule


def prepare(
    format: str,
    source: str | os.PathLike,
    out_dir: Path,
    limits: Limits,
    seed: int = 0,
    by_speaker: bool = True,
    progress: Callable[[], object] | None = None,
    **options: object,
) -> Prepared:
    """Import ``source`` as ``format``, clean it into ``out_dir`` and split it; write ``train``/``valid``/
    ``test.jsonl``, ``skipped.tsv`` (every item left out, with its reason) and ``corpus.json`` (the counts,
    for the model card). Raises :class:`CorpusError` when the training split would hold fewer than
    ``limits.min_utterances`` utterances. ``progress`` is called once per entry imported, then once per
    utterance cleaned."""
    imported = import_corpus(format, source, progress=progress, **options)
    utterances, dropped, rates = clean(imported.utterances, out_dir, limits, progress=progress)
    skipped = imported.skipped + dropped
    for where, reason in skipped:
        logger.warning("%s: %s", where, reason)
    entries = len(imported.utterances) + len(imported.skipped)
    splits, rule = split(utterances, seed, by_speaker) if utterances else ({"train": []}, "")
    if len(splits["train"]) < limits.min_utterances:
        raise CorpusError(
            f"{source}: too little to train on: {len(utterances)} usable utterances of {entries} entries "
            f"({skip_summary(skipped)}), {len(splits['train'])} left to train on after holding out test and "
            f"validation; at least {limits.min_utterances} are needed (see {out_dir / 'skipped.tsv'})"
        )
    prepared = Prepared(splits, skipped, entries, rates, rule)
    write_prepared(
        prepared, out_dir, {"source": str(Path(source).absolute()), "format": format, "seed": seed}
    )
    return prepared


def write_prepared(prepared: Prepared, out_dir: Path, about: dict[str, object]) -> None:
    """The manifests, the list of skipped items and ``corpus.json``, each written atomically."""
    for name, utterances in prepared.splits.items():
        write_manifest(out_dir / f"{name}.jsonl", utterances)
    with atomic_output(out_dir / "skipped.tsv", "w") as stream:
        stream.writelines(f"{where}\t{reason}\n" for where, reason in prepared.skipped)
    summary = {
        **about,
        "entries": prepared.entries,
        "kept": sum(len(utterances) for utterances in prepared.splits.values()),
        "skipped": len(prepared.skipped),
        "skipped_by_kind": dict(Counter(skip_kind(reason) for _, reason in prepared.skipped).most_common()),
        "source_sample_rates": {str(rate): count for rate, count in sorted(prepared.rates.items())},
        "split": prepared.split_rule,
        "splits": {
            name: {
                "utterances": len(utterances),
                "hours": round(sum(u.duration for u in utterances) / 3600, 4),
                "speakers": len({u.speaker for u in utterances if u.speaker}),
            }
            for name, utterances in prepared.splits.items()
        },
    }
    with atomic_output(out_dir / "corpus.json", "w") as stream:
        json.dump(summary, stream, indent=1)
