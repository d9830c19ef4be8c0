"""The adversarial stage: a spectrogram critic that learns to tell real speech from a distorted copy, and the
trainer that trains it beside the vocoder, keeps it in checkpoints (an interrupted run resumes exactly) and
leaves it out of the exported model."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel

from speech.audio import read_audio
from speech.cli import main
from speech.models.critic import SpectrogramCritic, WaveformCritic, critic_loss, generator_terms

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "conf" / "vocoder" / "subframe_tiny.yaml"
ADVERSARIAL = ["loss.adversarial_weight=1.0", "loss.feature_weight=2.0", "loss.critic_fft_sizes=[256,128]"]


def crops(librivox_dir: Path, seconds: float = 0.5) -> torch.Tensor:
    """Every whole ``seconds`` crop of Debian's real read speech, one a row."""
    size = int(seconds * 16000)
    rows = []
    for path in sorted(librivox_dir.glob("*.wav")):
        samples = torch.from_numpy(read_audio(path, 16000)[0])
        rows.extend(samples[: len(samples) // size * size].reshape(-1, size))
    return torch.stack(rows)


@pytest.mark.parametrize(
    ("make_critic", "rate", "steps"),
    [
        (lambda: SpectrogramCritic([256, 128], channels=8), 2e-3, 40),
        # Samples show 15 dB of hiss less plainly than log spectra do: the waveform critic learns it slower.
        (lambda: WaveformCritic([2, 5], channels=8), 1e-2, 100),
    ],
    ids=["spectrogram", "waveform"],
)
def test_the_critic_learns_to_tell_speech_from_a_noisy_copy(
    librivox_dir: Path, make_critic, rate: float, steps: int
) -> None:
    """Trained on half the crops against the same crops with noise 15 dB below them, either critic scores
    the other half's real crops above their noisy copies, which is what its gradient teaches a vocoder."""
    real = crops(librivox_dir)
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(real.shape, generator=generator)
    noisy = real + noise * real.pow(2).mean(1, keepdim=True).sqrt() * 10 ** (-15 / 20)
    train, held_out = slice(0, len(real) // 2), slice(len(real) // 2, None)
    torch.manual_seed(0)
    critic = make_critic()
    optimizer = torch.optim.Adam(critic.parameters(), lr=rate)
    for _ in range(steps):
        loss = critic_loss(critic, real[train], noisy[train])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        scores = [[layers[-1].mean().item() for layers in critic(x[held_out])] for x in (real, noisy)]
    for real_score, noisy_score in zip(*scores, strict=True):
        assert real_score - noisy_score > 0.25, scores
    assert loss.item() < 0.5  # an untrained critic's least-squares loss is about 1

    # The generator's terms: no feature distance between a signal and itself, and a gradient on the audio.
    fake = noisy[held_out][:2].clone().requires_grad_(True)
    adversarial, matching = generator_terms(critic, real[held_out][:2], fake)
    assert adversarial.item() > 0.1 and matching.item() > 0
    (adversarial + matching).backward()
    assert fake.grad.abs().sum() > 0
    same = generator_terms(critic, real[held_out][:2], real[held_out][:2])[1]
    assert same.item() == pytest.approx(0.0, abs=1e-6)


def test_an_adversarial_run_resumes_exactly_and_exports_only_the_vocoder(
    tmp_path: Path, real_shards: Path
) -> None:
    """Six steps in one go equal four steps, a stop, and two more from the checkpoint: the critic, its
    optimizer (at its own learning rate) and its schedule are restored too (without them the vocoder's next
    steps would differ)."""
    base = [
        "train",
        str(TINY),
        f"data.train={real_shards}",
        "data.valid=",
        "train.checkpoint_every=2",
        "optim.schedule=constant",
        "optim.critic_lr=5e-3",
        *ADVERSARIAL,
    ]
    assert main([*base, f"train.out_dir={tmp_path / 'whole'}", "train.max_steps=6"]) == 0
    assert main([*base, f"train.out_dir={tmp_path / 'cut'}", "train.max_steps=4"]) == 0
    assert main([*base, f"train.out_dir={tmp_path / 'cut'}", "train.max_steps=6", "--resume"]) == 0

    whole = load_file(str(tmp_path / "whole" / "last" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "cut" / "last" / "model.safetensors"))
    assert whole.keys() == resumed.keys()
    assert not any(name.startswith("critic") or "scorers" in name for name in whole)  # the vocoder alone
    for name, tensor in whole.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)

    state = load_file(str(tmp_path / "cut" / "checkpoints" / "step-000000006" / "state.safetensors"))
    skeleton = json.loads((tmp_path / "cut" / "checkpoints" / "step-000000006" / "state.json").read_text())
    keys = [key for key, _ in skeleton["__dict__"]]
    assert {"critic", "critic_optimizer", "critic_scheduler"} <= set(keys)
    fields = dict(skeleton["__dict__"])

    def peak_rate(optimizer: str) -> float:
        group = dict(dict(fields[optimizer]["__dict__"])["param_groups"][0]["__dict__"])
        return group["initial_lr"]

    assert (
        peak_rate("critic_optimizer") == 5e-3 and peak_rate("optimizer") == 1e-2
    )  # optim.critic_lr, optim.lr
    assert len(state) > len(whole)  # the critic's weights and moments travel in the trainer's state

    # Each part of the loss, and the critic's own, is logged beside the total.
    logged = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    parts = {"train/spectral", "train/pitch", "train/adversarial", "train/feature_matching", "train/critic"}
    assert parts <= set(logged[-1]) and all(logged[-1][name] > 0 for name in parts)


def test_the_critic_trains_wrapped_for_several_processes(librivox_dir: Path, monkeypatch) -> None:
    """Under DistributedDataParallel (as the trainer wraps it for torchrun) the critic's loss runs its two
    passes, real and generated, and its gradient reaches the critic inside the wrapper."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        critic = SpectrogramCritic([256, 128], channels=4)
        real = crops(librivox_dir)[:2]
        loss = critic_loss(DistributedDataParallel(critic), real, real.flip(-1))
        loss.backward()
        assert torch.isfinite(loss) and all(p.grad.abs().sum() > 0 for p in critic.parameters())
    finally:
        dist.destroy_process_group()
