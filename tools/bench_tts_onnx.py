"""Benchmark: a sentence's mel from the voice's acoustic model, PyTorch against the ONNX export.

    python tools/bench_tts_onnx.py [--voice DIR] [--threads 1 2] [--repeats 5]

Exports the voice (``speech export``) into a temporary folder, then times, for each sentence below and each
thread count, the whole acoustic model for one sentence: token ids in, log-mel frames out (encoder and
durations, one decoder step per frame, post-net). PyTorch runs ``TTSModel.encode``, ``durations`` and
``generate`` as :class:`~speech.synthesizer.Synthesizer` does; onnxruntime runs
:class:`~speech.tts_onnx.OnnxVoiceModel` with the frame loop in numpy. Both on the same durations; reports
the median of --repeats per sentence and the frames per second over all sentences. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch

from speech.assets import TTS_VOICE
from speech.models.tts import TTSModel
from speech.synthesizer import Synthesizer, minimum_frames
from speech.tts_export import export_voice_onnx
from speech.tts_onnx import OnnxVoiceModel

SENTENCES = [  # not in the voice's training text
    "The ferry left the harbour before the fog lifted.",
    "Nobody counted the birds on the roof that winter.",
    "Please bring two chairs and a lamp to the back room.",
]


def median_seconds(work: Callable[..., object], *inputs: object, repeats: int) -> float:
    """The median wall time of ``work(*inputs)`` over ``repeats`` calls, after one warm-up call."""
    work(*inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work(*inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.inference_mode()
def torch_mel(model: TTSModel, tokens: torch.Tensor, minimum: torch.Tensor) -> torch.Tensor:
    """One sentence (1, N) through the torch model, as the synthesizer runs it."""
    lengths = torch.tensor([tokens.shape[1]])
    _, log_durations = model.encode(tokens, lengths)
    return model.generate(tokens, lengths, model.durations(log_durations, lengths, 1.0, minimum))[0]


def onnx_mel(runner: OnnxVoiceModel, tokens: torch.Tensor, minimum: torch.Tensor) -> np.ndarray:
    """The same sentence through the ONNX graphs."""
    memory, durations = runner.encode(tokens[0].numpy(), 1.0, minimum[0].numpy())
    return runner.decode(memory, durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voice", default=str(TTS_VOICE), help="voice folder (default: the shipped voice)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="intra-op thread counts")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    voice = Synthesizer.load(args.voice, vocoder="griffin-lim")
    model = voice.model
    with tempfile.TemporaryDirectory() as folder:
        export_voice_onnx(args.voice, folder)
        for threads in args.threads:
            torch.set_num_threads(threads)
            runner = OnnxVoiceModel(folder, threads)
            totals = {"torch": 0.0, "onnxruntime": 0.0}
            frames = 0
            for text in SENTENCES:
                (sentence,) = voice.sentences(text)
                tokens = torch.tensor([voice.vocab.encode(sentence)])
                minimum = minimum_frames([sentence], tokens.shape[1])
                count = int(runner.encode(tokens[0].numpy(), 1.0, minimum[0].numpy())[1].sum())
                frames += count
                seconds = {
                    "torch": median_seconds(torch_mel, model, tokens, minimum, repeats=args.repeats),
                    "onnxruntime": median_seconds(onnx_mel, runner, tokens, minimum, repeats=args.repeats),
                }
                for name, value in seconds.items():
                    totals[name] += value
                speech_seconds = count * voice.features.hop_length / voice.sample_rate
                print(
                    f"threads {threads}: {count} frames ({speech_seconds:.2f} s of speech): torch "
                    f"{seconds['torch'] * 1000:.0f} ms, onnxruntime {seconds['onnxruntime'] * 1000:.0f} ms"
                )
            print(
                f"threads {threads}, {frames} frames: torch {frames / totals['torch']:.0f} frames/s, onnxruntime "
                f"{frames / totals['onnxruntime']:.0f} frames/s ({totals['torch'] / totals['onnxruntime']:.2f}x)"
            )


if __name__ == "__main__":
    main()
