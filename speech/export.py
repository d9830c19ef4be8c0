"""ONNX export of a recognizer's acoustic model, for onnxruntime on edge devices and in ``speech transcribe
--backend onnx``: features in, CTC log-probabilities out, with dynamic batch and time axes. Features and
decoding stay in the toolkit, so the same model folder (config, vocabulary, LM, decoder settings) serves both
backends; the ``.onnx`` file is written beside the weights.

Only the recognizer and the phoneme aligner (the same network) export: the acoustic model of a voice
generates frame by frame in a Python loop, and the vocoders run their own compiled sample loops.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from speech.audio import atomic_output
from speech.errors import SpeechError
from speech.registry import load_model

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
OPSET = 17


def export_onnx(folder: str | os.PathLike, out: str | os.PathLike | None = None, int8: bool = False) -> Path:
    """Write the model folder's network as ONNX (``folder/model.onnx`` unless ``out`` says otherwise); with
    ``int8``, also its dynamically quantised copy (onnxruntime: int8 weights for the LSTM and linear layers)."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise SpeechError("ONNX export needs the onnx package: pip install 'speech[onnx]'") from None
    folder = Path(folder)
    loaded = load_model(folder, ("asr", "aligner"), "a recognizer or aligner (the models that export)")
    target = Path(out) if out else folder / ONNX_FILE
    features = torch.randn(2, 60, loaded.features.n_mels)
    lengths = torch.tensor([60, 41])
    with atomic_output(target) as stream:
        torch.onnx.export(
            loaded.model,
            (features, lengths),
            stream,
            input_names=["features", "lengths"],
            output_names=["log_probs", "out_lengths"],
            dynamic_axes={
                "features": {0: "batch", 1: "frames"},
                "lengths": {0: "batch"},
                "log_probs": {0: "batch", 1: "steps"},
                "out_lengths": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = target.with_name(INT8_FILE)
        temporary = quantized.with_name(f".{quantized.name}.tmp")
        quantize_dynamic(target, temporary, weight_type=QuantType.QInt8)
        os.replace(temporary, quantized)
    return target


class OnnxAcousticModel:
    """An exported acoustic model run by onnxruntime, called as the torch model is: (features, lengths) ->
    (log-probabilities, their lengths), as CPU tensors. Threads as many as torch uses."""

    def __init__(self, path: str | os.PathLike):
        try:
            import onnxruntime
        except ImportError:
            raise SpeechError("the ONNX backend needs onnxruntime: pip install 'speech[onnx]'") from None
        if not Path(path).is_file():
            raise SpeechError(f"{path}: no ONNX model here; write it with speech export")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own exception types for a bad file
            raise SpeechError(f"{path}: not a usable ONNX model ({str(error).splitlines()[0]})") from None

    def __call__(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, out_lengths = self.session.run(
            None, {"features": features.cpu().numpy(), "lengths": lengths.cpu().numpy().astype("int64")}
        )
        return torch.from_numpy(log_probs), torch.from_numpy(out_lengths)
