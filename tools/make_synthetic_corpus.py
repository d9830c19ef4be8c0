#!/usr/bin/env python
"""Make a seeded, labelled, multi-voice English speech corpus with the offline synthesisers.

Why: recognisers need transcribed speech from many voices to train on and to be tested against, and the
synthesisers that ``tools/setup.sh`` installs (espeak-ng, flite, festival, SVOX Pico, Piper) can make as much
of it as wanted, offline, with exact transcripts. Each utterance gets a sentence, a voice, a speaking rate, a
pitch shift and a level, all drawn from ``--seed`` and its own index, so the same arguments always give the same
corpus (and a larger ``--count`` with the same seed extends it rather than reshuffling it).

Output: ``OUT/audio/<voice-slug>/<id>.wav`` (16-bit, ``--sample-rate``), ``OUT/manifest.jsonl`` (the toolkit's
manifest; ``speaker`` is the voice id, ``text`` the sentence as written) and ``OUT/synthesis.jsonl`` (the
parameters each utterance was made with).

Resumable: ``OUT/rendered.jsonl`` logs each utterance as it is written, with its recipe (voice, spoken text,
speed, pitch, level, rate), so a run that is stopped (a large corpus takes hours) or re-run with other
arguments renders only what is missing or whose recipe changed. Not logged: the engines' versions and this
tool's own rendering code; after changing either, use a new OUT. One run per OUT at a time.

    python tools/make_synthetic_corpus.py --out data/synthetic --count 2000 --jobs 4
    python tools/make_synthetic_corpus.py --list-voices
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from synthvoices import ENGINES, PiperNoise, SynthesisError, Voice, list_voices, synthesize  # noqa: E402

from speech.audio import atomic_output, read_audio, resample, write_audio  # noqa: E402
from speech.data.manifest import Utterance, write_manifest  # noqa: E402
from speech.errors import SpeechError  # noqa: E402
from speech.text import normalize_text  # noqa: E402

DEFAULT_SENTENCES = Path(__file__).resolve().parent / "corpus_text" / "sentences.txt"

# Natural-sounding ranges: rate factor, pitch shift in semitones, peak level in dBFS.
SPEED_RANGE = (0.85, 1.20)
PITCH_RANGE = (-3.0, 3.0)
PEAK_DB_RANGE = (-10.0, -1.0)
# Piper's sampling noise with --piper-noise (the joe voice's own: 0.667 and 0.8): from a flat, steady reading to
# a lively, uneven one; beyond these the voice starts to slur.
PIPER_NOISE_SCALE_RANGE = (0.3, 1.0)
PIPER_NOISE_W_RANGE = (0.4, 1.2)
FIXED_PEAK_DB = -3.0  # with --no-variation
SILENT_PEAK = 1e-4
RENDERED_LOG = "rendered.jsonl"

log = logging.getLogger("make_synthetic_corpus")


@dataclass(frozen=True)
class Job:
    """Everything needed to render one utterance, decided up front in the parent process."""

    index: int
    id: str
    sentence_index: int
    text: str
    voice: Voice
    speed: float
    pitch: float
    peak_db: float
    audio: str  # relative to the output folder
    out_dir: str
    sample_rate: int
    noise: PiperNoise = PiperNoise()  # a Piper voice's sampling noise (the voice's own unless drawn)

    def utterance(self, duration: float) -> Utterance:
        """The manifest entry for this job's audio, once made."""
        return Utterance(
            id=self.id, audio=self.audio, duration=duration, text=self.text, speaker=self.voice.id
        )

    def recipe(self) -> dict:
        """Everything the audio file depends on: a logged utterance whose recipe still matches is reused."""
        return {
            "audio": self.audio,
            "voice": self.voice.id,
            "said": spoken_form(self.text),
            "speed": self.speed,
            "pitch": self.pitch,
            "peak_db": self.peak_db,
            "sample_rate": self.sample_rate,
            # only when drawn: files made before the noise could be set keep matching their recipes
            **({"noise": [self.noise.scale, self.noise.w]} if self.noise != PiperNoise() else {}),
        }


def spoken_form(text: str) -> str:
    """What the engine is asked to say: the sentence normalised as its label will be
    (:func:`speech.text.normalize_text`), so the audio says what the label says. Left to themselves the
    engines read "1887", "$2.3 million" or "9:30 am" each their own way (espeak-ng: "one thousand eight
    hundred eighty seven"). The pause marks go back against their words: flite ignores a comma standing
    alone."""
    return re.sub(r" (?=[,.?!])", "", normalize_text(text, keep_punctuation=True))


def load_sentences(path: str | Path) -> list[str]:
    """One sentence per line; blank lines and lines starting with '#' are skipped."""
    path = Path(path)
    if not path.is_file():
        raise SpeechError(f"{path}: sentences file not found")
    sentences = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in sentences if line and not line.startswith("#")]
    if not sentences:
        raise SpeechError(f"{path}: no sentences in file")
    return sentences


def select_voices(spec: str | None, available: list[Voice]) -> list[Voice]:
    """Resolve ``--voices``: comma-separated engine names, voice ids or shell patterns (``espeak:en-us+f*``)."""
    if spec is None or spec.strip() in ("", "all"):
        return list(available)
    by_id = {voice.id: voice for voice in available}
    chosen: dict[str, Voice] = {}
    for token in (part.strip() for part in spec.split(",")):
        if not token:
            continue
        if token in ENGINES:
            matches = [voice for voice in available if voice.engine == token]
            if not matches:
                raise SpeechError(f"--voices: engine '{token}' has no voices here (is it installed?)")
        elif token in by_id:
            matches = [by_id[token]]
        else:
            matches = [voice for voice in available if fnmatch.fnmatchcase(voice.id, token)]
            if not matches:
                raise SpeechError(f"--voices: no voice '{token}' (see --list-voices)")
        chosen.update((voice.id, voice) for voice in matches)
    return sorted(chosen.values(), key=lambda voice: voice.id)


def plan(
    sentences: list[str],
    voices: list[Voice],
    count: int,
    seed: int,
    out_dir: str | Path,
    sample_rate: int,
    vary: bool = True,
    piper_noise: bool = False,
) -> list[Job]:
    """Decide every utterance from (seed, index) alone, so runs with the same arguments agree.

    ``vary=False`` keeps every voice at its own speed and pitch and every utterance at one level
    (FIXED_PEAK_DB): a corpus for training a synthetic voice, not for robust recognition. ``piper_noise``
    also draws each Piper utterance's sampling noise, with or without ``vary`` (after the other draws, so
    they stay as they were).

    Engines take turns in a seeded order (each engine gets an equal share however many voices it has);
    sentences are dealt from seeded shuffles of the whole list, so each is used once before any repeats.
    """
    engines = [engine for engine in ENGINES if any(voice.engine == engine for voice in voices)]
    if not engines or not sentences:
        raise SpeechError("nothing to plan: no voices or no sentences")
    by_engine = {
        engine: sorted((v for v in voices if v.engine == engine), key=lambda v: v.id) for engine in engines
    }
    jobs = []
    engine_order: np.ndarray = np.arange(0)
    sentence_order: np.ndarray = np.arange(0)
    for index in range(count):
        if index % len(engines) == 0:
            engine_order = np.random.default_rng([seed, 1, index // len(engines)]).permutation(len(engines))
        if index % len(sentences) == 0:
            sentence_order = np.random.default_rng([seed, 2, index // len(sentences)]).permutation(
                len(sentences)
            )
        rng = np.random.default_rng([seed, 3, index])
        candidates = by_engine[engines[engine_order[index % len(engines)]]]
        voice = candidates[int(rng.integers(len(candidates)))]
        sentence_index = int(sentence_order[index % len(sentences)])
        utterance_id = f"syn{seed}-{index:06d}"
        speed = round(float(rng.uniform(*SPEED_RANGE)), 3) if vary else 1.0
        pitch = round(float(rng.uniform(*PITCH_RANGE)), 2) if vary else 0.0
        peak_db = round(float(rng.uniform(*PEAK_DB_RANGE)), 2) if vary else FIXED_PEAK_DB
        noise = PiperNoise()
        if piper_noise and voice.engine == "piper":
            noise = PiperNoise(
                round(float(rng.uniform(*PIPER_NOISE_SCALE_RANGE)), 3),
                round(float(rng.uniform(*PIPER_NOISE_W_RANGE)), 3),
            )
        jobs.append(
            Job(
                index=index,
                id=utterance_id,
                sentence_index=sentence_index,
                text=sentences[sentence_index],
                voice=voice,
                speed=speed,
                pitch=pitch,
                peak_db=peak_db,
                audio=f"audio/{voice.slug}/{utterance_id}.wav",
                out_dir=str(out_dir),
                sample_rate=sample_rate,
                noise=noise,
            )
        )
    return jobs


def render(job: Job) -> Utterance:
    """Synthesise the sentence's spoken form, resample, set the level and write one utterance; raises
    SpeechError on failure."""
    with tempfile.TemporaryDirectory(prefix="synthcorpus-") as scratch:
        raw = synthesize(
            job.voice, spoken_form(job.text), job.speed, job.pitch, Path(scratch) / "raw.wav", job.noise
        )
        samples, rate = read_audio(raw)
    samples = resample(samples, rate, job.sample_rate)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak < SILENT_PEAK:
        raise SynthesisError(f"voice {job.voice.id}: engine produced silence")
    samples = samples * np.float32(10.0 ** (job.peak_db / 20.0) / peak)
    write_audio(Path(job.out_dir) / job.audio, samples, job.sample_rate)
    return job.utterance(round(samples.size / job.sample_rate, 4))


def _render_safely(job: Job) -> tuple[Job, Utterance | None, str | None]:
    """Pool entry point: a failure comes back as a message, so one bad utterance never stops the run."""
    try:
        return job, render(job), None
    except Exception as error:  # any engine or I/O problem is reported and the utterance skipped
        return job, None, str(error) or type(error).__name__


def reusable_utterances(jobs: list[Job], out: Path) -> dict[int, Utterance]:
    """Compacts ``out``'s log, then returns the planned utterances it holds as they would be made now (job
    index -> utterance): same recipe, audio file still there. Entries for ids outside the plan are kept, so a
    run with a smaller ``--count`` forgets nothing; a torn last line (a killed run) is dropped."""
    path = out / RENDERED_LOG
    logged: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                logged[str(entry["id"])] = {
                    "id": str(entry["id"]),
                    "recipe": dict(entry["recipe"]),
                    "duration": float(entry["duration"]),
                }
            except (ValueError, KeyError, TypeError):
                continue
    planned = {job.id: job for job in jobs}

    def still_holds(entry: dict) -> bool:
        job = planned.get(entry["id"])
        return job is None or (entry["recipe"] == job.recipe() and (out / job.audio).is_file())

    kept = {key: entry for key, entry in logged.items() if still_holds(entry)}
    with atomic_output(path, "w") as stream:
        stream.writelines(json.dumps(entry) + "\n" for entry in kept.values())
    return {job.index: job.utterance(kept[job.id]["duration"]) for job in jobs if job.id in kept}


def run_jobs(
    jobs: list[Job], workers: int, log_path: Path | None = None
) -> tuple[list[Utterance], list[tuple[Job, str]]]:
    """Render in ``workers`` processes with a progress bar, appending each utterance to ``log_path`` as it
    is written; returns (utterances in index order, failures)."""
    results: dict[int, Utterance] = {}
    failures: list[tuple[Job, str]] = []
    progress = tqdm(total=len(jobs), unit="utt", desc="synthesising", dynamic_ncols=True, disable=None)
    rendered_log = log_path.open("a", encoding="utf-8") if log_path else None

    def collect(job: Job, utterance: Utterance | None, error: str | None) -> None:
        if utterance is None:
            log.warning("skipped %s (voice %s): %s", job.id, job.voice.id, error)
            failures.append((job, error or "unknown error"))
        else:
            results[job.index] = utterance
            if rendered_log:
                entry = {"id": job.id, "recipe": job.recipe(), "duration": utterance.duration}
                rendered_log.write(json.dumps(entry) + "\n")
                rendered_log.flush()
        progress.update()

    try:
        if workers <= 1:
            for job in jobs:
                collect(*_render_safely(job))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for future in as_completed([pool.submit(_render_safely, job) for job in jobs]):
                    collect(*future.result())
    finally:
        progress.close()
        if rendered_log:
            rendered_log.close()
    return [results[index] for index in sorted(results)], sorted(failures, key=lambda item: item[0].index)


def write_parameters(path: Path, jobs: list[Job], written: set[str]) -> None:
    """A sidecar with how each written utterance was made, for debugging and for TTS conditioning."""
    with path.open("w", encoding="utf-8") as stream:
        for job in jobs:
            if job.id in written:
                record = {
                    "id": job.id,
                    "voice": job.voice.id,
                    "engine": job.voice.engine,
                    "gender": job.voice.gender,
                    "sentence": job.sentence_index,
                    "speed": job.speed,
                    "pitch_semitones": job.pitch,
                    "peak_dbfs": job.peak_db,
                }
                if job.noise != PiperNoise():
                    record["piper_noise_scale"], record["piper_noise_w"] = job.noise.scale, job.noise.w
                stream.write(json.dumps(record) + "\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Make a seeded, labelled multi-voice English speech corpus with offline synthesisers.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, help="output folder (audio/, manifest.jsonl, synthesis.jsonl, rendered.jsonl)"
    )
    parser.add_argument(
        "--sentences", type=Path, default=DEFAULT_SENTENCES, help="text file, one sentence a line"
    )
    parser.add_argument("--count", type=_positive_int, default=100, help="number of utterances to make")
    parser.add_argument(
        "--voices",
        default="all",
        help="comma list of engine names (espeak, flite, festival, pico, piper), voice ids (espeak:en-us+f3, "
        "flite:slt, festival:kallpc16k) or patterns (espeak:en-gb*); 'all' for every installed voice",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="seed for sentences, voices and parameters")
    parser.add_argument("--jobs", type=_positive_int, default=2, help="parallel synthesis processes")
    parser.add_argument("--sample-rate", type=_positive_int, default=16000, help="output sample rate in Hz")
    parser.add_argument(
        "--no-variation",
        action="store_true",
        help="no random speed, pitch or level: each voice as it is (a corpus for training a voice)",
    )
    parser.add_argument(
        "--piper-noise",
        action="store_true",
        help=f"draw each Piper utterance's sampling noise (noise_scale {PIPER_NOISE_SCALE_RANGE}, noise_w "
        f"{PIPER_NOISE_W_RANGE}; the voice's own otherwise): one recorded speaker read in many ways",
    )
    parser.add_argument("--list-voices", action="store_true", help="print the available voice ids and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    available = list_voices()
    if args.list_voices:
        for voice in available:
            print(f"{voice.id}\t{voice.gender or '-'}")
        counts = Counter(voice.engine for voice in available)
        print(", ".join(f"{engine}: {counts.get(engine, 0)}" for engine in ENGINES), file=sys.stderr)
        return 0
    if args.out is None:
        print("error: --out is required (or use --list-voices)", file=sys.stderr)
        return 2
    try:
        sentences = load_sentences(args.sentences)
        voices = select_voices(args.voices, available)
        if not voices:
            raise SpeechError("no synthesiser voices found: install espeak-ng, flite or festival")
    except SpeechError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = [engine for engine in ENGINES if not any(voice.engine == engine for voice in available)]
    if missing:
        log.warning("not installed, so not used: %s", ", ".join(missing))

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan(
        sentences,
        voices,
        args.count,
        args.seed,
        out,
        args.sample_rate,
        vary=not args.no_variation,
        piper_noise=args.piper_noise,
    )
    reused = reusable_utterances(jobs, out)
    if reused:
        log.info("%d of %d utterances already rendered in %s: kept", len(reused), len(jobs), out)
    started = time.perf_counter()
    rendered, failures = run_jobs(
        [job for job in jobs if job.index not in reused], args.jobs, out / RENDERED_LOG
    )
    elapsed = time.perf_counter() - started
    index_of = {job.id: job.index for job in jobs}
    by_index = {**reused, **{index_of[utterance.id]: utterance for utterance in rendered}}
    utterances = [by_index[index] for index in sorted(by_index)]
    write_manifest(out / "manifest.jsonl", utterances)
    write_parameters(out / "synthesis.jsonl", jobs, {utterance.id for utterance in utterances})

    hours = sum(utterance.duration for utterance in utterances) / 3600.0
    per_engine = Counter(utterance.speaker.split(":", 1)[0] for utterance in utterances)
    print(
        f"wrote {len(utterances)} utterances ({hours * 60:.1f} min of audio, "
        f"{len({u.speaker for u in utterances})} voices) to {out / 'manifest.jsonl'}: {len(rendered)} rendered "
        f"in {elapsed:.1f}s with {args.jobs} job(s), {len(reused)} kept from before; {len(failures)} failed"
    )
    print("  per engine: " + ", ".join(f"{engine} {per_engine.get(engine, 0)}" for engine in ENGINES))
    rendered_hours = sum(utterance.duration for utterance in rendered) / 3600.0
    if rendered and elapsed > 0:
        print(f"  speed: {rendered_hours * 3600.0 / elapsed:.1f}x real time")
    return 0 if utterances else 1


if __name__ == "__main__":
    sys.exit(main())
