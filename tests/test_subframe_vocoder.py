"""The subframe vocoder's pieces on real speech: the block form of the LPC synthesis filter, the levels
estimated from the mel, the free-running loop's training signal, and generation over folded inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speech.audio import read_audio
from speech.config import ConfigError, load_config
from speech.data.batching import Batch
from speech.features import FeatureConfig, FeatureExtractor
from speech.lpc import MelLPC, sample_frames, synthesis_matrices
from speech.models.subframe import SubframeVocoder, SubframeVocoderConfig
from speech.pitch import track_pitch
from speech.tasks import TASKS
from speech.tasks.subframe import spectral_loss
from speech.vocoder.base import VocoderError
from speech.vocoder.subframe import SubframeGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CONFIG = Path(__file__).resolve().parents[1] / "conf" / "vocoder" / "subframe_tiny.yaml"


@pytest.fixture(scope="module")
def clip(librivox_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """A real read-speech recording and its log-mel frames."""
    samples, _ = read_audio(sorted(librivox_dir.glob("*.wav"))[0], 16000)
    samples = torch.from_numpy(samples[: 3 * 16000])
    return samples, FeatureExtractor(FeatureConfig())(samples)


def test_block_synthesis_filter_equals_the_sample_recursion(clip: tuple[torch.Tensor, torch.Tensor]) -> None:
    samples, mel = clip
    lpc = MelLPC(FeatureConfig())(mel).double()
    frame = len(mel) // 2  # a frame inside the speech
    a = lpc[frame]
    past = samples[frame * 160 - 16 : frame * 160].double()
    excitation = torch.randn(40, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.01
    signal = list(past)
    for n in range(40):  # s[t] = e[t] + sum_i a_i s[t - i]
        signal.append(excitation[n] + sum(a[i - 1] * signal[-i] for i in range(1, 17)))
    filters, free = synthesis_matrices(a, 40)
    torch.testing.assert_close(
        filters @ excitation + free @ past, torch.stack(signal[16:]), rtol=0, atol=1e-12
    )


def test_levels_from_the_mel_match_the_recording(clip: tuple[torch.Tensor, torch.Tensor]) -> None:
    """The frame's RMS and its LPC residual's RMS, estimated from the mel alone, against the recording's own
    (Hann-weighted, as the mel's frames) over its speech frames: they scale the vocoder's inputs and output.
    The residual's estimate runs a little high (measured 0.75-0.89 of the truth), its learned gain's job."""
    samples, mel = clip
    lpc, levels = MelLPC(FeatureConfig()).analyse(mel)
    x = samples.double()
    taps = torch.stack([torch.nn.functional.pad(x, (i, 0))[: len(x)] for i in range(1, 17)], 1)
    residual = x - (taps * lpc[sample_frames(len(x), 160, len(lpc))].double()).sum(1)
    windows = torch.arange(2, len(mel) - 2)[:, None] * 160 + torch.arange(-200, 200)
    hann = torch.hann_window(400, dtype=torch.float64)
    rms, residual_rms = (
        (v[windows] * hann).square().sum(1).div(hann.square().sum()).sqrt() for v in (x, residual)
    )
    speech = rms > 0.01
    assert speech.sum() > 50
    for truth, estimate, low, high in (
        (rms, levels[2:-2, 0], 0.95, 1.05),
        (residual_rms, levels[2:-2, 1], 0.6, 1.1),
    ):
        ratio = (truth[speech] / estimate[speech]).median()
        assert low < ratio < high, ratio
    assert (levels[:, 1] < levels[:, 0]).all()  # prediction removes energy


def test_spectral_loss_is_zero_for_the_same_signal_and_grows_with_distortion(
    clip: tuple[torch.Tensor, torch.Tensor],
) -> None:
    samples = clip[0][None]
    noise = torch.randn(samples.shape, generator=torch.Generator().manual_seed(0))
    sizes = [512, 128]
    assert spectral_loss(samples, samples, sizes) < 1e-6
    slight, heavy = (spectral_loss(samples + level * noise, samples, sizes) for level in (0.001, 0.05))
    assert 0 < slight < heavy


def real_batch(samples: torch.Tensor, mel: torch.Tensor) -> Batch:
    return Batch(
        features=mel[None],
        lengths=torch.tensor([len(mel)]),
        texts=[""],
        ids=["clip"],
        speakers=[""],
        audio_seconds=len(samples) / 16000,
        audio=samples[None],
    )


@pytest.mark.parametrize("harmonic_bands", [0, 4])
def test_training_runs_free_and_reaches_every_part_of_the_network(
    clip: tuple[torch.Tensor, torch.Tensor], harmonic_bands: int
) -> None:
    """One training loss on real speech: finite, and its gradient reaches the conditioning, both GRU cells,
    the output layer, the gain, the F0 head (which learns YIN's period) and the harmonic source's mix."""
    config = load_config(CONFIG, [f"model.harmonic_bands={harmonic_bands}"])
    task = TASKS["subframe_vocoder"](config)
    torch.manual_seed(0)
    model = task.build_model()
    loss, logged = task.loss(model, real_batch(*clip))
    assert torch.isfinite(loss) and logged["spectral"] > 0 and logged["pitch"] > 0
    loss.backward()
    for name in (
        "conv1.weight",
        "gru1.weight_hh",
        "gru2.weight_ih",
        "out.weight",
        "gain.weight",
        "pitch_head.0.weight",
        *(["mix.weight", "mix.bias"] if harmonic_bands else []),
    ):
        gradient = model.get_parameter(name).grad
        assert gradient is not None and gradient.abs().sum() > 0, name


def test_the_loop_is_the_filter_driven_by_the_network(clip: tuple[torch.Tensor, torch.Tensor]) -> None:
    """With its output layer silenced the network emits no excitation, so what comes out is the filter's
    response to the history alone: it starts from the history and dies away."""
    samples, mel = clip
    model = SubframeVocoder(SubframeVocoderConfig()).eval()
    torch.nn.init.zeros_(model.out.weight)
    torch.nn.init.zeros_(model.out.bias)
    lpc, levels = MelLPC(FeatureConfig()).analyse(mel)
    start, frames = len(mel) // 2, 20
    history = model.config.history
    signal = samples[start * 160 - history : start * 160][None]
    with torch.no_grad():
        cond = model.condition(mel[None], torch.tensor([len(mel)]))[:, start : start + frames]
        periods = torch.full((1, frames), 100)
        out = model(
            cond, periods, lpc[None, start:], levels[None, start:], (signal, torch.zeros_like(signal))
        )[0]
    filters, free = synthesis_matrices(lpc[start].double(), 40)
    torch.testing.assert_close(out[:40].double(), free @ signal[0, -16:].double(), rtol=1e-4, atol=1e-6)
    assert out[-160:].abs().max() < 1e-3 * signal.abs().max()


@pytest.mark.parametrize("harmonic_bands", [0, 4])
def test_generation_folds_long_inputs_and_checks_its_input(
    clip: tuple[torch.Tensor, torch.Tensor], harmonic_bands: int
) -> None:
    _, mel = clip
    torch.manual_seed(0)
    config = SubframeVocoderConfig(hidden=24, cond=16, subframe_cond=8, harmonic_bands=harmonic_bands)
    generator = SubframeGenerator(SubframeVocoder(config), FeatureConfig())
    whole, folded = (
        generator.vocode(mel.numpy(), fold_frames=frames, overlap_frames=10, refine=None)[0]
        for frames in (1000, 100)
    )
    assert len(whole) == len(folded) == len(mel) * 160
    assert np.isfinite(folded).all() and np.abs(folded).max() <= 1
    again = generator.vocode(mel.numpy(), seed=5, fold_frames=100, overlap_frames=10, refine=None)[0]
    np.testing.assert_array_equal(folded, again)  # deterministic: nothing is sampled
    many = generator.vocode_many(
        [mel.numpy(), mel[:30].numpy()], fold_frames=100, overlap_frames=10, refine=None
    )
    # Another input in the batch changes nothing but rounding (which the source's phase accumulates).
    np.testing.assert_allclose(many[0], folded, atol=1e-3 if harmonic_bands else 1e-5)
    assert len(many[1]) == 30 * 160
    alone = generator.vocode(mel[:30].numpy(), fold_frames=100, overlap_frames=10, refine=None)[0]
    np.testing.assert_allclose(many[1], alone, atol=1e-3 if harmonic_bands else 1e-5)  # padding unheard
    with pytest.raises(VocoderError, match="finite"):
        generator.vocode(np.full((10, 80), np.nan, np.float32))
    with pytest.raises(VocoderError, match="shape"):
        generator.vocode(np.zeros((10, 40), np.float32))


def test_training_follows_stored_pitch_tracks(
    clip: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    """With ``loss.pitch_tracks`` the F0 head's targets, the lags and the harmonic source come from the
    corpus's pYIN tracks, looked up by utterance id, not from YIN on the batch."""
    samples, mel = clip
    tracks = track_pitch(samples.numpy(), 16000, 160, len(mel))
    path = tmp_path / "pitch.npz"
    np.savez(path, hop=160, sample_rate=16000, **{"clip.period": tracks.period, "clip.voiced": tracks.voiced})
    config = load_config(CONFIG, ["model.harmonic_bands=2", f"loss.pitch_tracks={path}"])
    task = TASKS["subframe_vocoder"](config)
    batch = real_batch(samples, mel)
    starts = torch.tensor([3, 40])
    period, voiced = task.pitch_targets(batch, torch.tensor([0, 0]), starts, 10)
    for row, start in enumerate(starts.tolist()):
        np.testing.assert_allclose(period[row].numpy(), tracks.period[start : start + 10], rtol=1e-6)
        np.testing.assert_array_equal(voiced[row].numpy(), tracks.voiced[start : start + 10])
    torch.manual_seed(0)
    loss, _ = task.loss(task.build_model(), batch)
    assert torch.isfinite(loss)
    with pytest.raises(ConfigError, match="pitch_tracks"):
        TASKS["subframe_vocoder"](load_config(CONFIG, [f"loss.pitch_tracks={tmp_path / 'missing.npz'}"]))
