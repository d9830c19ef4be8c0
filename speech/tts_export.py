"""ONNX export of a voice's acoustic model (:class:`~speech.models.tts.TTSModel`), as three graphs.

The acoustic model generates frame by frame: each decoder step reads the frame it made before, so the whole
model is not one graph. What is a graph exports: the encoder with the duration predictor (tokens in, memory
and frames per token out, dynamic batch and token axes), ONE decoder step (conditioning frame, previous frame,
the pre-net's dropout masks and the LSTM states in; the frame and the new states out) and the post-net
(dynamic batch and frame axes). :class:`speech.tts_onnx.OnnxVoiceModel` runs the frame loop in numpy.

The pre-net's dropout stays on in generation (Tacotron 2), so its masks are inputs of the step graph, not a
random op inside it: the runner draws them, and a caller can give the masks a torch run drew to reproduce it.
Each file records the SHA-256 of the weights it was made from, as the recognizer's export does.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from speech.audio import atomic_output
from speech.errors import SpeechError
from speech.export import OPSET, record_digest, weights_digest
from speech.models.padding import lengths_mask
from speech.models.tts import TTSModel
from speech.tts_onnx import DROPOUT_KEY, ENCODER_FILE, POSTNET_FILE, STEP_FILE


class _Encoder(nn.Module):
    """Tokens -> memory and frames per token (the duration predictor's, scaled by 1/rate, at least
    ``minimum``), exactly as :meth:`TTSModel.durations` rounds them."""

    def __init__(self, model: TTSModel):
        super().__init__()
        self.model = model

    def forward(
        self, tokens: Tensor, lengths: Tensor, minimum: Tensor, rate: Tensor, speakers: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        memory, log_durations = self.model.encode(tokens, lengths, speakers)
        return memory, self.model.durations(log_durations, lengths, rate, minimum)


class _DecoderStep(nn.Module):
    """One step of :meth:`TTSModel.generate`'s loop, the pre-net's dropout given as masks (2, B, prenet)
    already scaled by 1/(1 - p), as ``F.dropout`` scales its kept units."""

    def __init__(self, model: TTSModel):
        super().__init__()
        self.model = model

    def forward(
        self, conditioning: Tensor, previous: Tensor, masks: Tensor, h: Tensor, c: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        x = previous
        for index, linear in enumerate(self.model.prenet):
            x = torch.relu(linear(x)) * masks[index]
        hidden, (h, c) = self.model.decoder(torch.cat([conditioning, x], -1)[:, None], (h, c))
        return self.model.project(torch.cat([hidden[:, 0], conditioning], -1)), h, c


class _Postnet(nn.Module):
    """Normalised frames before the post-net -> log-mel frames, zero beyond each row's length."""

    def __init__(self, model: TTSModel):
        super().__init__()
        self.model = model

    def forward(self, frames: Tensor, lengths: Tensor) -> Tensor:
        mask = lengths_mask(lengths, frames.shape[1])[..., None].float()
        after = self.model._postnet(frames, mask)
        return self.model.normalize.inverse(after) * mask


def export_voice_onnx(folder: str | os.PathLike, out: str | os.PathLike | None = None) -> list[Path]:
    """Write a voice folder's acoustic model as the three ONNX graphs (into ``out``, default the voice
    folder itself) and return their paths. Each records the weights' digest; the step graph also records
    the pre-net's dropout rate, which the runner needs to draw masks."""
    try:
        import onnx
    except ImportError:
        raise SpeechError("ONNX export needs the onnx package: pip install 'speech[onnx]'") from None
    from speech.registry import load_model

    folder = Path(folder)
    loaded = load_model(folder, "tts", "a voice")
    model: TTSModel = loaded.model
    config = model.config
    target = Path(out) if out else folder
    if target.suffix == ".onnx" or (target.exists() and not target.is_dir()):
        raise SpeechError(f"{target}: a voice exports three files; name a folder")
    width, layers, units = 2 * config.encoder, config.decoder_layers, config.decoder
    tokens = torch.randint(1, config.vocab_size, (2, 9))
    lengths = torch.tensor([9, 6])
    encoder_inputs = [tokens, lengths, torch.ones(2, 9, dtype=torch.long), torch.ones(1)]
    encoder_names = ["tokens", "lengths", "minimum", "rate"]
    if model.speaker is not None:
        encoder_inputs.append(torch.zeros(2, dtype=torch.long))
        encoder_names.append("speakers")
    graphs = [
        (
            ENCODER_FILE,
            _Encoder(model),
            tuple(encoder_inputs),
            encoder_names,
            ["memory", "durations"],
            {
                "tokens": {0: "batch", 1: "tokens"},
                "lengths": {0: "batch"},
                "minimum": {0: "batch", 1: "tokens"},
                "speakers": {0: "batch"},
                "memory": {0: "batch", 1: "tokens"},
                "durations": {0: "batch", 1: "tokens"},
            },
        ),
        (
            STEP_FILE,
            _DecoderStep(model),
            (
                torch.randn(2, width + 1),
                torch.randn(2, config.n_mels),
                torch.ones(2, 2, config.prenet),
                torch.zeros(layers, 2, units),
                torch.zeros(layers, 2, units),
            ),
            ["conditioning", "previous", "masks", "h", "c"],
            ["frame", "h_out", "c_out"],
            {
                "conditioning": {0: "batch"},
                "previous": {0: "batch"},
                "masks": {1: "batch"},
                "h": {1: "batch"},
                "c": {1: "batch"},
                "frame": {0: "batch"},
                "h_out": {1: "batch"},
                "c_out": {1: "batch"},
            },
        ),
        (
            POSTNET_FILE,
            _Postnet(model),
            (torch.randn(2, 30, config.n_mels), torch.tensor([30, 17])),
            ["frames", "lengths"],
            ["mel"],
            {"frames": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}, "mel": {0: "batch", 1: "frames"}},
        ),
    ]
    digest = weights_digest(folder)
    written = []
    for name, graph, inputs, input_names, output_names, axes in graphs:
        exported = io.BytesIO()
        torch.onnx.export(
            graph,
            inputs,
            exported,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes={key: value for key, value in axes.items() if key in input_names + output_names},
            opset_version=OPSET,
            dynamo=False,
        )
        network = onnx.load_from_string(exported.getvalue())
        record_digest(network, digest)
        if name == STEP_FILE:
            entry = network.metadata_props.add()
            entry.key, entry.value = DROPOUT_KEY, repr(config.prenet_dropout)
        with atomic_output(target / name) as stream:
            stream.write(network.SerializeToString())
        written.append(target / name)
    return written
