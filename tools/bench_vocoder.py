"""Benchmark: vocoder generation speed on this CPU, and the quality floor of its output representation.

    python tools/bench_vocoder.py [--config conf/vocoder/small.yaml ...] [--model DIR] [--threads 1 2]
    python tools/bench_vocoder.py --device cuda --batch 1 64 256     # aggregate throughput on a GPU
    python tools/bench_vocoder.py --quantisation [AUDIO ...]

Speed: times ``Vocoder.vocode`` end to end (conditioning network, folding, the compiled sample loop,
cross-fade, PQMF synthesis, de-emphasis) on the log-mel of a 10-second utterance, after one warm-up call
(numba compilation), best of --repeats. With --device cuda, ``Vocoder.vocode_many`` on --batch copies of the
utterance at once (the CUDA-graph sample loop; the warm-up call captures the graph), as aggregate speed. The network's weights do not change the work, so a config's freshly
initialised model times the same as a trained one. Prints one Markdown row per config and thread count.

Quantisation: encodes real speech exactly as training targets are made (pre-emphasis, PQMF analysis,
mu-law) and decodes it again, for each band count, bit depth and pre-emphasis: the distortion a perfect
model of that output would still have. MCD here is a mel-cepstral distance computed from the toolkit's
80-bin log-mel (13 DCT coefficients, c0 excluded), a proxy for the SPTK-based MCD, good for comparisons.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchaudio
from machine import describe_machine

from speech.audio import read_audio
from speech.config import load_config
from speech.errors import SpeechError
from speech.features import FeatureConfig, FeatureExtractor
from speech.models.lpcnet import BITS
from speech.models.vocoder import VocoderModel, VocoderModelConfig
from speech.registry import architecture
from speech.vocoder import Vocoder, load_vocoder, vocoder_for
from speech.vocoder.consistency import refine_option

REPO = Path(__file__).resolve().parents[1]
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def ten_seconds(files: list[Path]) -> np.ndarray:
    """Real speech: the given files (default: Debian's librivox clips) joined and cut to 10 s, or noise."""
    clips = [read_audio(path, 16000)[0] for path in files]
    samples = np.concatenate(clips) if clips else np.random.default_rng(0).normal(0, 0.1, 160000)
    return np.resize(samples, 160000).astype(np.float32)


def speed(args: argparse.Namespace, samples: np.ndarray) -> None:
    vocoders = []
    for path in args.config:
        config = load_config(path)
        model_config = dataclasses.replace(
            config.model, input_dims=config.features.n_mels, hop_length=config.features.hop_length
        )
        vocoder = vocoder_for(architecture(config.task).model(model_config), config.features, args.device)
        vocoders.append((Path(path).stem, vocoder))
    if args.model:
        vocoders.append((Path(args.model).name, load_vocoder(args.model, args.device)))
    if args.device != "cpu":
        return gpu_speed(args, samples, vocoders)
    seconds = len(samples) / 16000
    fold = "each vocoder's own folding" if args.fold_frames is None else f"fold {args.fold_frames} frames"
    print(f"{seconds:.0f} s utterance, {fold}; {describe_machine()}")
    print("| vocoder | GRU | bands x bits | fc | threads | time for 10 s | real-time factor | samples/s |")
    print("|---|---|---|---|---|---|---|---|")
    options = fold_options(args)
    for name, vocoder in vocoders:
        mel = vocoder.mel(samples)
        vocoder.vocode(mel[:20], **options)  # compile
        for threads in args.threads:
            best = best_seconds(args.repeats, vocoder.vocode, mel, threads=threads, **options)
            c = vocoder.config
            if hasattr(c, "bands"):
                output = f"{c.bands} x {c.bits}"
            elif hasattr(c, "subframe"):
                output = f"{c.subframe}-sample subframes + LPC {c.order}"
            else:
                output = f"1 x {BITS} + LPC {c.order}"
            print(
                f"| {name} | {c.hidden} | {output} | {getattr(c, 'fc', '-')} | {threads} | {best:.2f} s "
                f"| {seconds / best:.1f}x | {len(samples) / best / 1000:.0f}k |",
                flush=True,
            )


def fold_options(args: argparse.Namespace) -> dict[str, int | None]:
    """The folding (and the subframe vocoder's consistency step) asked for on the command line; what is not
    given stays each vocoder's own default (the subframe vocoder's includes 8 refining iterations)."""
    folding = {"fold_frames": args.fold_frames, "overlap_frames": args.overlap_frames}
    options: dict[str, int | None] = {key: value for key, value in folding.items() if value is not None}
    if args.refine is not None:
        options["refine"] = refine_option(args.refine)
    return options


def best_seconds(repeats: int, function: Callable, *arguments, **options) -> float:
    """The fastest of ``repeats`` timed calls of ``function(*arguments, **options)``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*arguments, **options)
        times.append(time.perf_counter() - start)
    return min(times)


def gpu_speed(args: argparse.Namespace, samples: np.ndarray, vocoders: list[tuple[str, Vocoder]]) -> None:
    seconds = len(samples) / 16000
    print(f"{seconds:.0f} s utterances on {torch.cuda.get_device_name()}; {describe_machine()}")
    print("| vocoder | GRU | batch | time | aggregate real-time factor | samples/s |")
    print("|---|---|---|---|---|---|")
    options = fold_options(args)
    for name, vocoder in vocoders:
        mel = vocoder.mel(samples)
        for batch in args.batch:
            vocoder.vocode_many([mel] * batch, **options)  # captures the graph for this batch
            # The samples come back to the host, so each call ends when the GPU's work does.
            best = best_seconds(args.repeats, vocoder.vocode_many, [mel] * batch, **options)
            print(
                f"| {name} | {vocoder.config.hidden} | {batch} | {best:.2f} s | {batch * seconds / best:.0f}x "
                f"| {batch * len(samples) / best / 1e6:.1f}M |",
                flush=True,
            )


def quantisation(samples_list: list[np.ndarray]) -> None:
    extractor = FeatureExtractor(FeatureConfig())
    dct = torchaudio.functional.create_dct(13, 80, norm="ortho")

    def mcd(reference: np.ndarray, other: np.ndarray) -> float:
        a, b = (extractor(torch.from_numpy(x)) @ dct for x in (reference, other))
        difference = 0.5 * (a - b)[:, 1:]  # log power -> log amplitude
        return float((10 / np.log(10) * (2 * difference.square().sum(-1)).sqrt()).mean())

    print("| bands | bits | pre-emphasis | MCD (dB, log-mel proxy) | SNR (dB) |")
    print("|---|---|---|---|---|")
    for bands in (1, 4):
        for bits in (8, 9, 10):
            for emphasis in (0.0, 0.85):
                model = VocoderModel(VocoderModelConfig(bands=bands, bits=bits, preemphasis=emphasis))
                mcds, snrs = [], []
                for samples in samples_list:
                    x = samples[: len(samples) // 160 * 160]
                    y = model.waveform(model.targets(torch.from_numpy(x)[None]))[0].numpy()
                    mcds.append(mcd(x, y))
                    snrs.append(10 * np.log10((x**2).sum() / ((x - y) ** 2).sum()))
                print(f"| {bands} | {bits} | {emphasis} | {np.mean(mcds):.2f} | {np.mean(snrs):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "audio", nargs="*", type=Path, help="speech to use (default: Debian's librivox clips)"
    )
    parser.add_argument("--config", nargs="*", default=[str(REPO / "conf/vocoder/small.yaml")])
    parser.add_argument("--model", help="a trained vocoder folder to time as well")
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--fold-frames", type=int, help="(default: each vocoder's own)")
    parser.add_argument("--overlap-frames", type=int, help="(default: each vocoder's own)")
    parser.add_argument(
        "--refine",
        type=int,
        help="the subframe vocoder's consistency iterations, -1 for its network alone (default: its own)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (the compiled loop) or cuda (CUDA graphs)")
    parser.add_argument(
        "--batch", nargs="*", type=int, default=[1, 16, 64], help="utterances per call on a GPU"
    )
    parser.add_argument(
        "--quantisation", action="store_true", help="measure the output representations instead"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = args.audio or sorted(LIBRIVOX.glob("*.wav"))
    try:
        if args.quantisation:
            quantisation([read_audio(path, 16000)[0] for path in files])
        else:
            speed(args, ten_seconds(files))
    except SpeechError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
