"""A voice's acoustic model run by onnxruntime from the three graphs ``speech export VOICE`` writes
(:mod:`speech.tts_export`), with the frame loop in numpy and without torch.

Not the default synthesis path: :class:`speech.synthesizer.Synthesizer` runs the torch model. This is the
export for users who run the model elsewhere (onnxruntime on a device), and the reference for how the
graphs fit together: encoder (frames per token) -> repeat each token's memory for its frames -> one
decoder step per frame -> post-net.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from speech.errors import SpeechError
from speech.export import DIGEST_KEY, WEIGHTS_FILE, onnx_session, weights_digest

ENCODER_FILE = "tts_encoder.onnx"
STEP_FILE = "tts_decoder_step.onnx"
POSTNET_FILE = "tts_postnet.onnx"
DROPOUT_KEY = "prenet_dropout"  # the step graph's metadata entry: the rate the runner draws masks at


class OnnxVoiceModel:
    """The exported graphs in ``folder``. When the folder also holds the voice's weights, every graph must
    record their digest: an export older than the weights is refused, never silently run. ``threads``: as
    :func:`speech.export.onnx_session` takes them."""

    def __init__(self, folder: str | os.PathLike, threads: int | None = None):
        folder = Path(folder)
        self.encoder, self.step, self.postnet = (
            onnx_session(folder / name, threads) for name in (ENCODER_FILE, STEP_FILE, POSTNET_FILE)
        )
        digests = {
            session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)
            for session in (self.encoder, self.step, self.postnet)
        }
        if len(digests) > 1:
            raise SpeechError(f"{folder}: the three ONNX graphs come from different exports; export again")
        if (folder / WEIGHTS_FILE).exists() and digests != {weights_digest(folder)}:
            raise SpeechError(f"{folder}: the ONNX graphs were not made from these weights; export again")
        inputs = {node.name: node.shape for node in self.step.get_inputs()}
        self.layers, _, self.units = inputs["h"]
        self.prenet = inputs["masks"][2]
        self.dropout = float(self.step.get_modelmeta().custom_metadata_map[DROPOUT_KEY])
        self.speakers = "speakers" in {node.name for node in self.encoder.get_inputs()}

    def encode(
        self,
        tokens: np.ndarray,
        rate: float = 1.0,
        minimum: np.ndarray | None = None,
        speaker: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One sentence's token ids (N,) -> memory (N, W) and frames per token (N,) int64: the duration
        predictor's, scaled by 1/rate, rounded, at least ``minimum`` (N,) where given."""
        feeds = {
            "tokens": np.asarray(tokens, dtype=np.int64)[None],
            "lengths": np.array([len(tokens)], dtype=np.int64),
            "minimum": np.zeros((1, len(tokens)), np.int64) if minimum is None else np.int64(minimum)[None],
            "rate": np.array([rate], dtype=np.float32),
        }
        if self.speakers:
            if speaker is None:
                raise SpeechError("this voice has several speakers: name one")
            feeds["speakers"] = np.array([speaker], dtype=np.int64)
        memory, durations = self.encoder.run(None, feeds)
        return memory[0], durations[0]

    def decode(
        self, memory: np.ndarray, durations: np.ndarray, seed: int = 0, masks: np.ndarray | None = None
    ) -> np.ndarray:
        """Log-mel frames (sum(durations), mels) for memory (N, W) read for ``durations`` (N,) frames per
        token. ``masks``: the pre-net's dropout masks (frames, 2, 1, prenet), kept units scaled by 1/(1 - p);
        None draws them from ``seed`` (numpy's generator: not the draws torch makes for the same seed)."""
        conditioning = upsample(memory, durations)
        if masks is None:
            keep = np.random.default_rng(seed).random((len(conditioning), 2, 1, self.prenet)) >= self.dropout
            masks = keep.astype(np.float32) / np.float32(1 - self.dropout)
        h = c = np.zeros((self.layers, 1, self.units), dtype=np.float32)
        frame = np.zeros((1, self.postnet.get_inputs()[0].shape[2]), dtype=np.float32)
        frames = []
        for step, now in enumerate(conditioning):
            frame, h, c = self.step.run(
                None, {"conditioning": now[None], "previous": frame, "masks": masks[step], "h": h, "c": c}
            )
            frames.append(frame)
        before = np.stack(frames, 1) if frames else np.zeros((1, 0, frame.shape[1]), np.float32)
        (mel,) = self.postnet.run(None, {"frames": before, "lengths": np.array([len(frames)], np.int64)})
        return mel[0]


def upsample(memory: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """:meth:`speech.models.tts.TTSModel.upsample` for one sentence in numpy: token i's memory (N, W)
    repeated durations[i] times, with each frame's position inside its token, in (0, 1), appended."""
    durations = np.asarray(durations, dtype=np.int64)
    starts = np.cumsum(durations) - durations
    frame = np.arange(int(durations.sum()))
    position = (frame - np.repeat(starts, durations) + 0.5) / np.repeat(durations, durations)
    repeated = np.repeat(memory, durations, axis=0)
    return np.concatenate([repeated, position[:, None].astype(memory.dtype)], 1)
