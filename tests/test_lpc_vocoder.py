"""The LPC vocoder's pieces: linear prediction from the mel on real speech, the training closed loop, and the
compiled sampler against a PyTorch step loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech.audio import read_audio
from speech.config import load_config
from speech.features import FeatureConfig, FeatureExtractor
from speech.lpc import MelLPC, levinson, sample_frames
from speech.models.lpcnet import LPCNet, LPCNetConfig
from speech.models.vocoder import interpolate_frames, mulaw_encode
from speech.tasks import TASKS
from speech.vocoder import Vocoder
from speech.vocoder.kernel import CUTOFF
from speech.vocoder.lpc_kernel import LPCWeights, generate, teacher_inputs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(seed: int = 0, pitch: bool = False) -> LPCNet:
    torch.manual_seed(seed)
    model = LPCNet(LPCNetConfig(hidden=24, cond=8, embedding=4, fc=8, pitch=pitch)).eval()
    with torch.no_grad():  # livelier than the initial weights: peaked, input-dependent distributions
        model.out.weight.mul_(4)
        model.rnn.weight_hh_l0.mul_(2)
    return model


def prediction_error(samples: torch.Tensor, lpc: torch.Tensor, hop: int) -> torch.Tensor:
    """x[t] - sum_i a_i x[t-i] with each sample's nearest frame's predictor (float64); with ``hop`` 1,
    ``lpc`` holds one predictor per sample after the first ``order`` (the history)."""
    x = samples.double()
    order = lpc.shape[1]
    padded = torch.nn.functional.pad(x, (order, 0))
    past = torch.stack([padded[order - i : order - i + len(x)] for i in range(1, order + 1)], 1)
    if hop == 1:
        lpc = torch.nn.functional.pad(lpc, (0, 0, order, 0))
    return x - (past * lpc[sample_frames(len(x), hop, len(lpc))].double()).sum(1)


def snr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return float(10 * torch.log10(reference.square().sum() / (reference - estimate).square().sum()))


def test_levinson_recovers_an_ar_process() -> None:
    true = torch.tensor([1.3, -0.8, 0.2], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(200_000, generator=generator, dtype=torch.float64)
    x = torch.zeros_like(noise)
    for t in range(3, len(x)):  # slow but plain: x[t] = sum a_i x[t-i] + noise
        x[t] = true[0] * x[t - 1] + true[1] * x[t - 2] + true[2] * x[t - 3] + noise[t]
    r = torch.stack([(x[: len(x) - k] * x[k:]).sum() for k in range(4)])
    torch.testing.assert_close(levinson(r, 3), true, atol=0.01, rtol=0)
    assert torch.equal(levinson(torch.zeros(2, 4), 3), torch.zeros(2, 3, dtype=torch.float64))


def test_lpc_from_the_mel_predicts_real_speech_as_well_as_lpc_from_the_audio(librivox_dir: Path) -> None:
    features = FeatureConfig()
    extractor, mel_lpc = FeatureExtractor(features), MelLPC(features)
    for path in sorted(librivox_dir.glob("*.wav"))[:2]:
        samples, _ = read_audio(path, 16000)
        x = torch.from_numpy(samples)
        mel = extractor(x)
        from_mel = mel_lpc(mel)
        # The same predictor from each frame's own windowed audio.
        window = torch.hann_window(features.win_length, dtype=torch.float64)
        padded = torch.nn.functional.pad(x.double()[None], (200, 200), mode="reflect")[0]
        frames = padded.unfold(0, features.n_fft, features.hop_length)[: len(mel)] * window
        r = torch.fft.irfft(torch.fft.rfft(frames).abs() ** 2, n=features.n_fft)[:, :17] * mel_lpc.lag_window
        from_audio = levinson(r, 16)

        def gain(lpc: torch.Tensor, x: torch.Tensor = x) -> float:
            return snr(x.double(), x - prediction_error(x, lpc, features.hop_length))

        assert gain(from_mel) > 15  # an envelope worth having (~20 dB on read speech)
        assert gain(from_mel) > gain(from_audio) - 0.3
        # Quiet input: the log floor is subtracted, so the predictor barely changes.
        assert gain(mel_lpc(extractor(x * 0.01))) > gain(from_mel) - 1.5


def test_teacher_inputs_without_noise_follow_the_clean_signal(librivox_dir: Path) -> None:
    samples, _ = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)
    features = FeatureConfig()
    lpc = MelLPC(features)(FeatureExtractor(features)(torch.from_numpy(samples)))
    start, steps = 16000, 3200
    x = torch.from_numpy(samples[start - 16 : start + steps])  # the segment and 16 samples of history
    per_sample = lpc[sample_frames(start + steps, 160, len(lpc))[start:]][None]
    silent = np.zeros((1, 16 + steps), np.int64)
    per_sample = torch.cat([per_sample[:, :1].expand(1, 16, 16), per_sample], 1)  # history rows: unused
    signal, prediction, excitation, _, target = teacher_inputs(
        x[None].numpy(), per_sample.numpy(), silent, silent, 16
    )
    levels = LPCNet(LPCNetConfig()).levels
    assert snr(x[16:-1], levels[signal[0, 1:]]) > 30  # s[t-1] is the clean signal, mu-law quantised
    clean_excitation = prediction_error(x, per_sample[0, 16:], 1)[16:]  # x[t] - its clean prediction
    # The loop predicts from what it rebuilt (within a quantisation step of the clean signal), so the
    # targets are the clean excitation up to that step.
    assert snr(clean_excitation.float(), levels[target[0]]) > 15
    assert np.array_equal(excitation[0, 1:], target[0, :-1])  # e[t-1] is the previous target
    assert snr(x[16:], levels[prediction[0]] + levels[target[0]]) > 25  # s[t] = p[t] + e[t]

    # With noise the loop drifts from the clean signal and the targets steer back towards it.
    noise = np.random.default_rng(0).integers(-2, 3, (1, 16 + steps))
    _, _, noisy_excitation, _, noisy_target = teacher_inputs(
        x[None].numpy(), per_sample.numpy(), noise, silent, 16
    )
    assert not np.array_equal(noisy_target, target)
    assert np.array_equal(noisy_excitation[0, 1:], np.clip(noisy_target[0, :-1] + noise[0, 16:-1], 0, 255))


def test_teacher_loop_runs_through_its_history_for_the_long_term_input(librivox_dir: Path) -> None:
    samples, _ = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)
    features = FeatureConfig()
    lpc = MelLPC(features)(FeatureExtractor(features)(torch.from_numpy(samples)))
    start, steps, history = 16000, 800, 16 + 300
    x = torch.from_numpy(samples[start - history : start + steps])
    per_sample = lpc[sample_frames(history + steps, 160, len(lpc), first=start - history)][None].numpy()
    noise = np.random.default_rng(0).integers(-2, 3, (1, history + steps))
    periods = np.random.default_rng(1).integers(40, 300, (1, history + steps))
    _, _, excitation, past, target = teacher_inputs(x[None].numpy(), per_sample, noise, periods, history)
    # The loop's noisy excitation over history and segment: e[t-1] at the segment's start is the
    # history's last, and e[t-T] is read from as far back as the history reaches.
    made = np.concatenate([np.full(16, 128), np.empty(history - 16 + steps, np.int64)])
    full_target = teacher_inputs(x[None].numpy(), per_sample, noise, periods, 16)[4][0]
    made[16:] = np.clip(full_target + noise[0, 16:], 0, 255)
    t = np.arange(history, history + steps)
    assert np.array_equal(excitation[0], made[t - 1])
    assert np.array_equal(past[0], made[t - periods[0, t]])
    assert np.array_equal(target[0], full_target[history - 16 :])


def reference_generate(
    model: LPCNet,
    cond: torch.Tensor,
    lpc: torch.Tensor,
    periods: torch.Tensor,
    uniforms: torch.Tensor,
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's computation as a plain PyTorch loop: samples (folds, steps) and logits per step."""
    c = model.config
    folds, steps = uniforms.shape
    up = interpolate_frames(cond, c.hop_length, steps)
    frame = sample_frames(steps, c.hop_length, cond.shape[1])
    cell = torch.nn.GRUCell(c.cond + model.sample_inputs * c.embedding, c.hidden)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in model.rnn.state_dict().items()})
    h = torch.zeros(folds, c.hidden)
    made = torch.zeros(folds, c.order + steps)
    silent = mulaw_encode(torch.zeros(folds), 8)
    previous, excitations = silent, []
    all_logits, all_inputs = [], []
    for t in range(steps):
        p = (lpc[:, frame[t]] * made[:, c.order + t - 1 - torch.arange(c.order)]).sum(-1)
        inputs = (mulaw_encode(made[:, c.order + t - 1], 8), mulaw_encode(p, 8), previous)
        if c.pitch:
            lag = t - periods[:, frame[t]]
            made_so_far = torch.stack([*excitations, silent], 1)  # the last column: before the start
            past = made_so_far[torch.arange(folds), torch.where(lag >= 0, lag, len(excitations))]
            inputs = (*inputs, past)
        h = cell(torch.cat([up[:, t], model.inputs(*inputs)], -1), h)
        logits = model.out(torch.relu(model.fc(h)))
        s = (logits - logits.amax(-1, keepdim=True)) / temperature
        weights = torch.where(s > CUTOFF, s.exp(), torch.zeros_like(s)).double().cumsum(-1)
        index = (weights <= (uniforms[:, t].double() * weights[:, -1])[:, None]).sum(-1).clamp(max=255)
        made[:, c.order + t] = (p + model.levels[index]).clamp(-1, 1)
        previous = index
        excitations.append(index)
        all_logits.append(logits)
        all_inputs.append(torch.stack(inputs, -1))
    return made[:, c.order :], torch.stack(all_logits, 1), torch.stack(all_inputs, 1)


@pytest.mark.parametrize(("temperature", "pitch"), [(1.0, False), (0.7, False), (1.0, True)])
def test_compiled_sampler_equals_pytorch_step_loop(temperature: float, pitch: bool) -> None:
    model = tiny_model(pitch=pitch)
    generator = torch.Generator().manual_seed(1)
    cond = torch.randn(3, 4, model.config.cond, generator=generator)
    lpc = torch.randn(3, 4, 16, generator=generator) * 0.05  # small, so the filter stays stable
    periods = torch.randint(32, 160, (3, 4), generator=generator)
    steps = 400  # 2.5 frames: the loop crosses frame and predictor boundaries
    uniforms = torch.rand(3, steps, generator=generator)

    with torch.no_grad():
        samples, logits, inputs = reference_generate(model, cond, lpc, periods, uniforms, temperature)
        gates = model.frame_gates(cond).numpy()
    weights = LPCWeights.from_model(model)
    compiled = generate(gates, lpc.numpy(), periods.numpy(), 160, weights, uniforms.numpy(), temperature)
    assert compiled.shape == (3, steps)
    np.testing.assert_allclose(compiled, samples.numpy(), atol=1e-5)
    assert len(np.unique(np.round(compiled, 4))) > 50  # a real random walk, not a constant

    # The training graph, teacher-forced on the sampled sequence, computes the sampler's logits.
    with torch.no_grad():
        forced = model(interpolate_frames(cond, 160, steps), *inputs.unbind(-1))
    torch.testing.assert_close(forced, logits, atol=1e-4, rtol=1e-4)


def test_vocode_length_determinism_and_threads(speech_wav: Path) -> None:
    vocoder = Vocoder(tiny_model(), FeatureConfig())
    samples, rate = read_audio(speech_wav, 16000)
    mel = vocoder.mel(samples)
    one, rate = vocoder.vocode(mel, seed=3, threads=1)
    assert rate == 16000 and one.shape == (len(mel) * 160,) and np.isfinite(one).all()
    two, _ = vocoder.vocode(mel, seed=3, threads=2)
    np.testing.assert_array_equal(one, two)
    other, _ = vocoder.vocode(mel, seed=4)
    assert not np.array_equal(one, other)


def test_a_model_grows_pitch_computing_what_it_did_before() -> None:
    config = load_config(
        Path(__file__).resolve().parents[1] / "conf/vocoder/lpc_tiny.yaml", ["model.pitch=true"]
    )
    task = TASKS["lpc_vocoder"](config)
    grown, source = task.build_model(), task.build_model()
    source = LPCNet(LPCNetConfig(**{**vars(source.config), "pitch": False}))
    task.initialize(grown, source)
    generator = torch.Generator().manual_seed(0)
    cond = torch.randn(2, 50, grown.config.cond, generator=generator)
    signal, prediction, excitation, past = torch.randint(0, 256, (4, 2, 50), generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(
            grown(cond, signal, prediction, excitation, past), source(cond, signal, prediction, excitation)
        )
    wider = LPCNet(LPCNetConfig(**{**vars(source.config), "hidden": source.config.hidden * 2}))
    with pytest.raises(ValueError, match="more than pitch"):
        task.initialize(grown, wider)
