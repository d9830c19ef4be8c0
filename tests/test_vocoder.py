"""The vocoder's pieces: mu-law, PQMF, the compiled sampler against a PyTorch step loop, folding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech.audio import read_audio
from speech.data.batching import collate
from speech.features import FeatureConfig, FeatureExtractor
from speech.models.vocoder import (
    VocoderModel,
    VocoderModelConfig,
    interpolate_frames,
    mulaw_encode,
    mulaw_levels,
)
from speech.vocoder import Vocoder, VocoderError, fold, overlap_add
from speech.vocoder.graphed import FrameLoop
from speech.vocoder.kernel import Weights, generate, reference_generate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(seed: int = 0, **overrides) -> VocoderModel:
    torch.manual_seed(seed)
    config = VocoderModelConfig(**{"hidden": 24, "cond": 8, "fc": 8, "bits": 8, **overrides})
    model = VocoderModel(config).eval()
    with torch.no_grad():  # livelier than the initial weights: peaked, input-dependent distributions
        model.out_weight.mul_(4)
        model.rnn.weight_hh_l0.mul_(2)
    return model


def test_mulaw_levels_round_trip() -> None:
    for bits in (8, 9):
        levels = mulaw_levels(bits)
        assert levels[0] == -1 and levels[-1] == 1 and torch.all(levels.diff() > 0)
        assert torch.equal(mulaw_encode(levels, bits), torch.arange(2**bits))
        x = torch.linspace(-1, 1, 10001)
        error = (levels[mulaw_encode(x, bits)] - x).abs()
        assert error.max() < 0.03 and error[4990:5010].max() < 1e-3  # fine steps near zero


def test_pqmf_reconstructs_real_speech(speech_wav: Path) -> None:
    samples, _ = read_audio(speech_wav, 16000)
    x = torch.from_numpy(samples[: len(samples) // 160 * 160])[None]
    model = VocoderModel(VocoderModelConfig(bands=4))
    bands = model.pqmf.analysis(x)
    assert bands.shape == (1, 4, x.shape[1] // 4)
    y = model.pqmf.synthesis(bands)
    snr = 10 * torch.log10(x.square().sum() / (x - y).square().sum())
    assert snr > 40
    # Training targets decoded back (pre-emphasis, bands, 9-bit mu-law) stay close to the input.
    decoded = model.waveform(model.targets(x))
    assert 10 * torch.log10(x.square().sum() / (x - decoded).square().sum()) > 30


@pytest.mark.parametrize(("bands", "bits", "temperature"), [(4, 8, 1.0), (1, 9, 0.7)])
def test_compiled_sampler_equals_pytorch_step_loop(bands: int, bits: int, temperature: float) -> None:
    model = tiny_model(bands=bands, bits=bits)
    generator = torch.Generator().manual_seed(1)
    cond = torch.randn(3, 6, model.config.cond, generator=generator)
    steps = 200  # 5 frames of 4 bands, 1.25 frames of 1 band: the loop crosses frame boundaries
    uniforms = torch.rand(3, steps, bands, generator=generator)

    indices, logits = reference_generate(model, cond, uniforms, temperature)
    weights = Weights.from_model(model)
    compiled = generate(
        model.frame_gates(cond).detach().numpy(),
        model.config.steps_per_frame,
        weights,
        uniforms.numpy(),
        temperature,
    )
    assert compiled.shape == (3, steps, bands)
    np.testing.assert_array_equal(compiled, indices.numpy())
    assert len(np.unique(compiled)) > 20  # a real random walk, not a constant

    # The training graph, teacher-forced on the sampled sequence, computes the sampler's logits.
    previous = torch.nn.functional.pad(model.levels[indices], (0, 0, 1, -1))
    with torch.no_grad():
        forced = model(interpolate_frames(cond, model.config.steps_per_frame, steps), previous)
    torch.testing.assert_close(forced, logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("bands", "bits", "temperature"), [(4, 8, 1.0), (1, 9, 0.7)])
def test_gpu_frame_loop_equals_pytorch_step_loop(bands: int, bits: int, temperature: float) -> None:
    """The GPU sampler's maths, run here on the CPU (on CUDA the same frame is captured as a graph)."""
    model = tiny_model(bands=bands, bits=bits)
    generator = torch.Generator().manual_seed(2)
    cond = torch.randn(3, 6, model.config.cond, generator=generator)
    steps = 200  # crosses frame boundaries, and ends inside a frame for 1 band (160 steps a frame)
    uniforms = torch.rand(3, steps, bands, generator=generator)
    indices, _ = reference_generate(model, cond, uniforms, temperature)
    weights = Weights.from_model(model)
    loop = FrameLoop(weights, folds=3, steps_per_frame=model.config.steps_per_frame, device="cpu")
    gates = model.frame_gates(cond).detach()
    for _ in range(2):  # the loop's state is reset between runs
        sampled = loop.run(gates, uniforms, temperature)
        assert sampled.shape == (3, steps, bands)
        torch.testing.assert_close(sampled, indices, atol=0, rtol=0)
    assert len(np.unique(sampled.numpy())) > 20


def test_gpu_batches_padded_to_a_few_graph_sizes_give_the_cpu_kernels_samples() -> None:
    vocoder = Vocoder(tiny_model(bits=8), FeatureConfig())
    generator = torch.Generator().manual_seed(3)
    for folds in (3, 11):  # padded to 8 and 16 folds
        cond = torch.randn(folds, 6, vocoder.config.cond, generator=generator)
        gates = vocoder.model.frame_gates(cond).detach()
        uniforms = torch.rand(folds, 160, 4, generator=generator).numpy()
        expected = generate(gates.numpy(), vocoder.config.steps_per_frame, vocoder.weights, uniforms)
        np.testing.assert_array_equal(vocoder._generate_on_device(gates, uniforms, 1.0), expected)
    assert sorted(vocoder._loops) == [8, 16]


def test_fold_covers_every_step_with_equal_power() -> None:
    lengths, spf, overlap = [1, 23, 50, 7], 40, 4
    pieces = fold(lengths, fold_frames=10, overlap_frames=overlap)
    assert [sum(p.utterance == u for p in pieces) for u in range(4)] == [1, 3, 5, 1]
    assert all(p.end - p.start <= 10 + overlap for p in pieces)
    squares = [np.zeros(n * spf) for n in lengths]
    for i, piece in enumerate(pieces):  # piece i alone: its weight at every step it covers
        ones = [np.ones(((p.end - p.start) * spf, 2), np.float32) * (j == i) for j, p in enumerate(pieces)]
        out = overlap_add(pieces, ones, lengths, spf, overlap)
        assert [len(o) for o in out] == [n * spf for n in lengths]
        squares[piece.utterance] += out[piece.utterance][:, 0] ** 2
    for total in squares:
        np.testing.assert_allclose(total, 1.0, atol=1e-6)
    with pytest.raises(VocoderError):
        fold([5], fold_frames=4, overlap_frames=4)


def test_vocode_length_determinism_and_threads(speech_wav: Path) -> None:
    vocoder = Vocoder(tiny_model(), FeatureConfig())
    samples, rate = read_audio(speech_wav, 16000)
    mel = vocoder.mel(samples)
    options = {"fold_frames": 30, "overlap_frames": 4}
    first, rate = vocoder.vocode(mel, seed=3, threads=1, **options)
    assert rate == 16000 and first.shape == (len(mel) * 160,) and first.dtype == np.float32
    assert np.abs(first).max() <= 1 and first.std() > 1e-3
    np.testing.assert_array_equal(vocoder.vocode(mel, seed=3, threads=2, **options)[0], first)
    assert not np.array_equal(vocoder.vocode(mel, seed=4, threads=1, **options)[0], first)
    # A batch of inputs: each one conditioned as it is alone, and each output its own length.
    short = mel[:17]
    vocoder.model.normalize.mean.copy_(torch.from_numpy(mel.mean(0)))  # padding is not 0 once normalised
    gates, _ = vocoder._frame_gates([short, mel])
    torch.testing.assert_close(gates[0, :17], vocoder._frame_gates([short])[0][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gates[1], vocoder._frame_gates([mel])[0][0], atol=1e-5, rtol=1e-5)
    many = vocoder.vocode_many([short, mel], seed=3, **options)
    assert many[0].shape == (17 * 160,) and many[1].shape == first.shape
    copied, _ = vocoder.copy_synthesis(samples)
    assert copied.shape == samples.shape
    with pytest.raises(VocoderError, match=r"shape \(frames, 80\)"):
        vocoder.vocode(mel[:, :40])
    with pytest.raises(VocoderError, match="finite"):
        vocoder.vocode(np.full((5, 80), np.nan, np.float32))


def test_batches_carry_their_waveforms_when_asked(speech_wav: Path) -> None:
    samples, _ = read_audio(speech_wav, 16000)
    extractor = FeatureExtractor(FeatureConfig())
    utterances = [
        {"audio": samples, "text": "a", "id": "a", "duration": len(samples) / 16000},
        {"audio": samples[:8000], "text": "b", "id": "b", "duration": 0.5},
    ]
    assert collate(utterances, extractor).audio is None  # recognizers and voices do not need them
    batch = collate(utterances, extractor, keep_audio=True)
    assert batch.audio.shape == (2, len(samples))
    assert (
        torch.equal(batch.audio[1, :8000], torch.from_numpy(samples[:8000]))
        and batch.audio[1, 8000:].eq(0).all()
    )
    assert batch.to("cpu").audio is not None
