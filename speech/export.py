"""ONNX export of a recognizer's acoustic model, and running it in onnxruntime without torch.

``speech export`` writes the network as ONNX beside the weights: features in, CTC log-probabilities out, with
dynamic batch and time axes. Features and decoding stay in the toolkit, so the same model folder (config,
vocabulary, LM, decoder settings) serves every backend. The file records the SHA-256 of the
``model.safetensors`` it was made from, so a folder whose weights changed after the export (a fine-tuning run
writing over them) is never silently run with the old network: the recognizer checks it when it loads.

:class:`OnnxAcousticModel` imports neither torch nor torchaudio (features in numpy, :mod:`speech.logmel`), so
a transcription run that uses it starts in a fraction of a second; the shipped recognizer ships its ONNX
file for that reason (``speech export`` with no arguments writes it again).

The recognizer and the phoneme aligner (the same network) export here. A voice's acoustic model generates
frame by frame, so it exports as three graphs around a numpy frame loop (:mod:`speech.tts_export`,
:mod:`speech.tts_onnx`); the vocoders run their own compiled sample loops and do not export.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from speech.audio import atomic_output
from speech.errors import SpeechError
from speech.logmel import FeatureConfig, LogMel

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
WEIGHTS_FILE = "model.safetensors"
DIGEST_KEY = "weights_sha256"  # the ONNX metadata entry naming the weights it was exported from
OPSET = 17


def weights_digest(folder: str | os.PathLike) -> str:
    """The SHA-256 of a model folder's ``model.safetensors`` (hex), as an export records it."""
    path = Path(folder) / WEIGHTS_FILE
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
    except OSError as error:
        raise SpeechError(f"{path}: cannot read the weights ({error.strerror or error})") from None
    return digest.hexdigest()


def export_onnx(folder: str | os.PathLike, out: str | os.PathLike | None = None, int8: bool = False) -> Path:
    """Write the model folder's network as ONNX (``folder/model.onnx`` unless ``out`` says otherwise); with
    ``int8``, also its dynamically quantised copy (onnxruntime: int8 weights for the LSTM and linear layers).
    Both record the weights' digest (:data:`DIGEST_KEY`)."""
    try:
        import onnx
    except ImportError:
        raise SpeechError("ONNX export needs the onnx package: pip install 'speech[onnx]'") from None
    import torch

    from speech.registry import load_model

    folder = Path(folder)
    loaded = load_model(folder, ("asr", "aligner"), "a recognizer or aligner (the models that export)")
    target = Path(out) if out else folder / ONNX_FILE
    features = torch.randn(2, 60, loaded.features.n_mels)
    lengths = torch.tensor([60, 41])
    exported = io.BytesIO()
    torch.onnx.export(
        loaded.model,
        (features, lengths),
        exported,
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
    digest = weights_digest(folder)
    network = onnx.load_from_string(exported.getvalue())
    record_digest(network, digest)
    with atomic_output(target) as stream:
        stream.write(network.SerializeToString())
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = target.with_name(INT8_FILE)
        temporary = quantized.with_name(f".{quantized.name}.tmp")
        quantize_dynamic(target, temporary, weight_type=QuantType.QInt8)
        network = onnx.load(temporary)
        record_digest(network, digest)  # quantisation keeps the graph, not always its metadata
        onnx.save(network, temporary)
        os.replace(temporary, quantized)
    return target


def record_digest(network, digest: str) -> None:
    """Set the weights' digest in an ``onnx.ModelProto``'s metadata (replacing an older entry)."""
    kept = [entry for entry in network.metadata_props if entry.key != DIGEST_KEY]
    del network.metadata_props[:]
    network.metadata_props.extend(kept)
    entry = network.metadata_props.add()
    entry.key, entry.value = DIGEST_KEY, digest


def onnx_session(path: str | os.PathLike, threads: int | None = None):
    """An onnxruntime CPU session for an exported file, every problem (no onnxruntime, no file, a bad file)
    one SpeechError line naming it. ``threads``: onnxruntime's intra-op threads (None: ``OMP_NUM_THREADS``
    when set, as torch reads it, else onnxruntime's default, one per physical core)."""
    try:
        import onnxruntime
    except ImportError:
        raise SpeechError("the ONNX backend needs onnxruntime: pip install onnxruntime") from None
    if not Path(path).is_file():
        raise SpeechError(f"{path}: no ONNX model here; write it with speech export")
    options = onnxruntime.SessionOptions()
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for a bad file
        raise SpeechError(f"{path}: not a usable ONNX model ({str(error).splitlines()[0]})") from None


class OnnxAcousticModel:
    """An exported acoustic model run by onnxruntime on its numpy features: waveforms in, CTC
    log-probabilities (batch, steps, vocab) float32 and their lengths out. ``threads``: as
    :func:`onnx_session` takes them."""

    def __init__(self, path: str | os.PathLike, features: FeatureConfig, threads: int | None = None):
        self.session = onnx_session(path, threads)
        self.path = Path(path)
        self.extractor = LogMel(features)

    @property
    def weights_digest(self) -> str | None:
        """The digest of the weights this file was exported from, if the export recorded it."""
        return self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)

    def __call__(self, waveforms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        features = [self.extractor(waveform) for waveform in waveforms]
        lengths = np.array([len(frames) for frames in features], dtype=np.int64)
        padded = np.zeros((len(features), lengths.max(), features[0].shape[1]), dtype=np.float32)
        for row, frames in enumerate(features):
            padded[row, : len(frames)] = frames
        log_probs, out_lengths = self.session.run(None, {"features": padded, "lengths": lengths})
        return log_probs, out_lengths
