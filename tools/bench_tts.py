"""Benchmark: a voice's intelligibility, robustness on long text, and end-to-end speed.

    python tools/bench_tts.py MANIFEST [--voice DIR] [--vocoder DIR|griffin-lim] [--sentences 100]
                              [--paragraphs 20] [--more-text MANIFEST...] [--work DIR]

MANIFEST holds held-out sentences with reference audio of them (for the default voice, flite slt's own
recordings: data/voice_slt/test.jsonl from pipelines/voice_default). Three measurements:

1. Round trip: the voice says each sentence; our recognizer (greedy and beam + LM) and pocketsphinx transcribe
   it; WER and CER against the text, next to the same recognizers on the reference audio. Target: the voice's
   CER at most 1.5x the reference's, with both recognizers. The same again for each sentence as
   ``Synthesizer.stream`` says it (a long sentence's lead phrase first, then the rest joined to it).
2. Robustness: paragraphs of 300+ characters (the manifests' sentences, joined in order), said by the voice
   and by flite slt; lost words (deletions) and repeated words (an inserted word equal to a neighbour) in our
   recognizer's transcript. A voice that skips or loops shows far more of both than the reference does.
3. Naturalness: DNSMOS OVRL, SIG and BAK (tools/dnsmos.py) on the first ``--dnsmos`` round-trip sentences,
   the voice's and the reference's.
4. Speed: text in, samples out through ``Synthesizer.synthesize_many`` (acoustic model + vocoder), as a
   real-time factor on this machine; plus `speech synthesize` end to end (process start included); and
   time to first audio when streaming ten sentences: the first chunk of ``Synthesizer.stream`` (model
   loaded, median of 5) and the first bytes of `speech synthesize -o -` (process start included).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np
import torch
from bench_transcribe import pocketsphinx_transcribe
from dnsmos import dnsmos
from machine import describe_machine

from speech.assets import TTS_VOICE
from speech.audio import read_audio, write_audio
from speech.data.manifest import read_manifest
from speech.recognizer import Recognizer
from speech.scoring import error_rates
from speech.synthesizer import Synthesizer, lead_phrase
from speech.text.normalize import normalize_text

MIN_PARAGRAPH_CHARS = 300


def robustness(paragraphs: list[str], synthesizer: Synthesizer, beam: Recognizer, work: Path) -> None:
    """Lost and repeated words in the paragraphs as the voice and as flite slt say them (the reference)."""
    said = [normalize_text(p) for p in paragraphs]
    voice_audio = [(s.samples, synthesizer.sample_rate) for s in synthesizer.synthesize_many(paragraphs)]
    print(
        f"\n{len(paragraphs)} paragraphs, {min(map(len, paragraphs))}+ characters, {sum(len(s.split()) for s in said)} words:\n"
    )
    print("| audio | lost words | repeated words | WER (ours, beam) |\n|---|---|---|---|")
    for name, audio in [("flite slt", flite(paragraphs, work)), ("this voice", voice_audio)]:
        heard = [r.transcript.text if r.transcript else "" for r in beam.transcribe(audio)]
        counts = [lost_and_repeated(r, h) for r, h in zip(said, heard, strict=True)]
        lost, repeated = sum(c[0] for c in counts), sum(c[1] for c in counts)
        print(f"| {name} | {lost} | {repeated} | {100 * jiwer.wer(said, heard):.1f}% |")


def paragraphs_from(sentences: list[str], count: int) -> list[str]:
    """Consecutive sentences joined until each paragraph has at least 300 characters."""
    paragraphs, current = [], []
    for sentence in sentences:
        current.append(sentence)
        if len(" ".join(current)) >= MIN_PARAGRAPH_CHARS:
            paragraphs.append(" ".join(current))
            current = []
        if len(paragraphs) == count:
            break
    return paragraphs


def flite(texts: list[str], folder: Path) -> list[str]:
    """flite slt saying each text: the reference for the paragraphs."""
    paths = []
    for index, text in enumerate(texts):
        path = folder / f"flite-{index:03d}.wav"
        subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(path)], check=True)
        paths.append(str(path))
    return paths


def lost_and_repeated(reference: str, hypothesis: str) -> tuple[int, int]:
    """Deleted words, and inserted words that repeat the word before or after them."""
    said, heard = reference.split(), hypothesis.split()
    lost = repeated = 0
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        if chunk.type == "delete":
            lost += chunk.ref_end_idx - chunk.ref_start_idx
        elif chunk.type == "insert":
            for index in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                neighbours = heard[max(index - 1, 0) : index] + heard[index + 1 : index + 2]
                neighbours += said[max(chunk.ref_start_idx - 1, 0) : chunk.ref_start_idx + 1]
                repeated += heard[index] in neighbours
    return lost, repeated


def scores(references: list[str], texts: list[str]) -> str:
    rates = error_rates(references, [normalize_text(text) for text in texts])
    return f"{100 * rates['wer']:.1f}% | {100 * rates['cer']:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", help="held-out sentences with reference audio (JSON lines)")
    parser.add_argument("--voice", default=str(TTS_VOICE), help="voice folder (default: the shipped voice)")
    parser.add_argument(
        "--vocoder",
        default=None,
        help="vocoder folder or griffin-lim (default: the shipped vocoder if there is one, else Griffin-Lim)",
    )
    parser.add_argument("--sentences", type=int, default=100, help="sentences for the round trip")
    parser.add_argument("--paragraphs", type=int, default=20, help="long paragraphs for robustness (0: none)")
    parser.add_argument(
        "--more-text", nargs="*", default=[], help="more held-out manifests whose sentences make paragraphs"
    )
    parser.add_argument("--work", default=None, help="keep the audio here (default: a temporary folder)")
    parser.add_argument("--dnsmos", type=int, default=30, help="sentences scored by DNSMOS (0: none)")
    args = parser.parse_args()

    utterances = list(read_manifest(args.manifest))
    sentences = [u.text for u in utterances[: args.sentences]]
    references = [normalize_text(text) for text in sentences]
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_tts-"))
    work.mkdir(parents=True, exist_ok=True)
    synthesizer = Synthesizer.load(args.voice, vocoder=args.vocoder)
    vocoder = type(synthesizer.vocoder).__name__ if synthesizer.vocoder else "Griffin-Lim"

    start = time.perf_counter()
    spoken = synthesizer.synthesize_many(sentences)
    elapsed = time.perf_counter() - start
    seconds = sum(len(s.samples) for s in spoken) / synthesizer.sample_rate
    ours_paths = []
    for index, result in enumerate(spoken):
        ours_paths.append(str(work / f"voice-{index:03d}.wav"))
        write_audio(ours_paths[-1], result.samples, synthesizer.sample_rate)
    (work / "sentences.txt").write_text("\n".join(sentences) + "\n")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "speech", "synthesize", str(work / "sentences.txt"), "--lines"]
        + ["-o", str(work / "cli"), "--voice", args.voice, "--overwrite"]
        + (["--vocoder", args.vocoder] if args.vocoder else []),
        check=True,
        capture_output=True,
    )
    whole = time.perf_counter() - start
    reference_paths = [str(u.audio) for u in utterances[: args.sentences]]
    streamed_paths = []  # as `speech synthesize --stream` and the server say them: a long one's lead first
    for index, sentence in enumerate(sentences):
        streamed_paths.append(str(work / f"streamed-{index:03d}.wav"))
        chunks = list(synthesizer.stream(sentence))
        write_audio(streamed_paths[-1], np.concatenate(chunks), synthesizer.sample_rate)
    cut = sum(lead_phrase(sentence) > 0 for sentence in sentences)

    print(f"{len(sentences)} held-out sentences from {args.manifest}; voice {args.voice}, vocoder {vocoder}")
    print(f"{describe_machine()}\n")
    print("| audio | recognizer | WER | CER |\n|---|---|---|---|")
    greedy, beam = Recognizer.load(), Recognizer.load(beam=32)
    audio_sets = [
        ("reference", reference_paths),
        ("this voice", ours_paths),
        (f"this voice, streamed ({cut} cut after their lead)", streamed_paths),
    ]
    for name, paths in audio_sets:
        for label, recognizer in [("ours, greedy", greedy), ("ours, beam 32 + LM", beam)]:
            texts = [r.transcript.text if r.transcript else "" for r in recognizer.transcribe(paths)]
            print(f"| {name} | {label} | {scores(references, texts)} |")
        texts, _ = pocketsphinx_transcribe(paths, os.cpu_count() or 1)
        print(f"| {name} | pocketsphinx 5 | {scores(references, texts)} |")

    if args.dnsmos:
        print(f"\nDNSMOS on the first {min(args.dnsmos, len(sentences))} sentences:\n")
        print("| audio | OVRL | SIG | BAK |\n|---|---|---|---|")
        for name, paths in [("reference", reference_paths), ("this voice", ours_paths)]:
            rate = synthesizer.sample_rate
            mos = dnsmos([read_audio(path, rate)[0] for path in paths[: args.dnsmos]], rate)
            print(f"| {name} | {mos['ovrl']:.2f} | {mos['sig']:.2f} | {mos['bak']:.2f} |")

    texts = [u.text for path in [args.manifest, *args.more_text] for u in read_manifest(path)]
    paragraphs = paragraphs_from(texts, args.paragraphs)
    if paragraphs:  # --paragraphs 0 skips the robustness test
        robustness(paragraphs, synthesizer, beam, work)

    ten = " ".join(sentences[:10])
    first_chunk, first_seconds = time_to_first_chunk(synthesizer, ten)
    first_bytes = time_to_first_bytes(ten, args.voice, args.vocoder)

    print(
        f"\nSpeed ({torch.get_num_threads()} threads), {seconds:.0f} s of speech from {len(sentences)} sentences:"
    )
    print(f"- synthesize_many (text in, samples out): {seconds / elapsed:.1f}x real time ({elapsed:.1f} s)")
    print(f"- `speech synthesize --lines` whole process: {seconds / whole:.1f}x real time ({whole:.1f} s)")
    print(
        f"- time to first audio, ten sentences streamed: {first_chunk:.2f} s (model loaded; median of 5, a "
        f"first chunk of {first_seconds:.2f} s of audio), {first_bytes:.2f} s"
    )
    print("  for the first bytes of `speech synthesize -o -` (process start and model loading included)")


def time_to_first_chunk(synthesizer: Synthesizer, text: str, repeats: int = 5) -> tuple[float, float]:
    """Median seconds to the first chunk of ``Synthesizer.stream(text)`` (the model loaded and warm), and
    that chunk's length in seconds of audio."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        chunk = next(iter(synthesizer.stream(text)))
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(chunk) / synthesizer.sample_rate


def time_to_first_bytes(text: str, voice: str, vocoder: str | None) -> float:
    """Seconds from starting `speech synthesize -o -` to its first bytes of audio on standard output."""
    command = [sys.executable, "-m", "speech", "synthesize", "-o", "-", "--voice", voice]
    command += ["--vocoder", vocoder] if vocoder else []
    start = time.perf_counter()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as job:
        job.stdin.write(text.encode())
        job.stdin.close()
        job.stdout.read(1)
        elapsed = time.perf_counter() - start
        job.stdout.read()
    return elapsed


if __name__ == "__main__":
    main()
