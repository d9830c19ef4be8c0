"""Phoneme durations by forced alignment, and the voice recipe's chain on real speech: `speech train` an
aligner, `speech align` the corpus, `speech shard` it with durations, `speech train` the acoustic model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from speech.aligner import fill_durations, silent_frames, spans_from_log_probs
from speech.audio import read_audio
from speech.cli import main
from speech.config import load_config
from speech.data.importers import import_sphinx
from speech.data.manifest import read_manifest, write_manifest
from speech.data.shards import iterate_shards
from speech.errors import SpeechError
from speech.features import FeatureConfig
from speech.synthesizer import Synthesizer
from speech.tasks import TASKS
from speech.text.phonemes import Phonemizer, is_separator, synthesis_tokens

CONF = Path(__file__).resolve().parents[1] / "conf"

#         0    1     2      3    4    5      6    7    8     9      10   11   12
TOKENS = ["|", "HH", "AH0", "|", "L", "OW1", ",", "|", "DH", "EH1", "R", ".", "|"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_fill_durations_gives_silence_to_separators_and_sums_to_the_frames() -> None:
    silent = [True] * 5 + [False] * 20 + [True] * 10 + [False] * 15 + [True] * 8  # 58 frames
    spans = [(6, 8), (10, 12), (15, 17), (21, 23), (36, 38), (42, 44), (47, 49)]  # HH AH0 L OW1 DH EH1 R
    durations = fill_durations(TOKENS, spans, silent)
    assert sum(durations) == len(silent)
    assert durations[0] == 5  # leading silence -> the opening boundary
    assert durations[6] == 10 and durations[7] == 0  # the pause -> the comma, not the boundary after it
    assert durations[11] == 8 and durations[12] == 0  # trailing silence -> the full stop
    assert durations[3] == 0  # no silence between "hello"'s words here: the boundary gets nothing
    assert all(durations[i] >= 2 for i, t in enumerate(TOKENS) if not is_separator(t))
    # phonemes own their spans plus the sound around them: HH from the end of the silence to mid-gap
    assert durations[1] == (8 - 5) + (10 - 8 + 1) // 2
    assert durations[5] == 25 - 21 + (21 - 17) // 2  # OW1 runs to the pause
    assert durations[8] == (36 - 35) + 2 + (42 - 38) // 2  # DH starts where the pause ends


def test_fill_durations_without_silence_splits_gaps() -> None:
    silent = [False] * 30
    spans = [(0, 1), (4, 5), (8, 9), (12, 13), (16, 17), (20, 21), (24, 25)]
    durations = fill_durations(TOKENS, spans, silent)
    assert sum(durations) == 30 and durations[0] == durations[6] == durations[11] == 0
    assert durations[10] == (24 - 23) + 1 + (
        30 - 25
    )  # the last phoneme keeps the tail: R from mid-gap to the end
    with pytest.raises(Exception, match="spans for"):
        fill_durations(TOKENS, spans[:-1], silent)


def test_forced_alignment_on_constructed_posteriors() -> None:
    """CTC posteriors that fire each phoneme at a known step (stack 2) give those spans in feature frames."""
    targets, fire = [3, 5, 3, 9], [2, 5, 9, 12]  # the same phoneme twice, apart
    log_probs = torch.full((15, 12), -10.0)
    log_probs[:, 0] = -0.01  # blank everywhere ...
    for target, step in zip(targets, fire, strict=True):
        log_probs[step, 0], log_probs[step, target] = -10.0, -0.01  # ... except where a phoneme fires
    spans = spans_from_log_probs(log_probs, targets, blank=0, stack=2, frames=29)
    assert spans == [(4, 6), (10, 12), (18, 20), (24, 26)]
    logmel = torch.full((29, 80), 0.0)
    logmel[:3] = logmel[27:] = -20.0  # silent edges
    tokens = synthesis_tokens(["K", "AE1", "K", "T"])
    durations = fill_durations(tokens, spans, silent_frames(logmel).tolist())
    assert durations == [3, 1 + 2 + 2, 2 + 2 + 3, 3 + 2 + 2, 2 + 2 + 1, 2]


@pytest.fixture(scope="module")
def voice_run(tmp_path_factory: pytest.TempPathFactory, librivox_dir: Path) -> Path:
    """The voice recipe in miniature on five real utterances: tiny aligner -> align -> shard -> tiny TTS."""
    work = tmp_path_factory.mktemp("voice")
    write_manifest(work / "all.jsonl", import_sphinx(librivox_dir).utterances)
    assert main(["shard", str(work / "all.jsonl"), "-o", str(work / "plain"), "--max-samples", "2"]) == 0
    common = [f"data.train={work / 'plain'}", "train.max_steps=6", "train.valid_every=6"]
    assert main(["train", str(CONF / "aligner/tiny.yaml"), *common, f"train.out_dir={work / 'aligner'}"]) == 0
    assert (
        main(
            [
                "align",
                str(work / "all.jsonl"),
                "--model",
                str(work / "aligner/last"),
                "-o",
                str(work / "aligned.jsonl"),
            ]
        )
        == 0
    )
    assert main(["shard", str(work / "aligned.jsonl"), "-o", str(work / "shards"), "--max-samples", "2"]) == 0
    shards = work / "shards"
    status = main(
        [
            "train", str(CONF / "tts/tiny.yaml"), f"data.train={shards}", f"data.valid={shards}",
            f"train.out_dir={work / 'tts'}", "train.max_steps=40", "train.valid_every=40", "train.log_every=5",
        ]
    )  # fmt: skip
    assert status == 0
    return work


def test_align_writes_durations_that_sum_to_the_frames(voice_run: Path) -> None:
    aligned = list(read_manifest(voice_run / "aligned.jsonl"))
    assert len(aligned) == 5
    phonemizer, features = Phonemizer(), FeatureConfig()
    for utterance in aligned:
        assert list(utterance.phonemes) == synthesis_tokens(phonemizer.phonemize(utterance.text))
        samples, _ = read_audio(utterance.audio, 16000)
        assert sum(utterance.durations) == features.num_frames(len(samples))
        assert all(
            d >= 2
            for d, t in zip(utterance.durations, utterance.phonemes, strict=True)
            if not is_separator(t)
        )
        assert all(d >= 0 for d in utterance.durations)
    samples = list(iterate_shards(voice_run / "shards"))  # the shards carry them
    assert {s["id"]: s["durations"] for s in samples} == {u.id: list(u.durations) for u in aligned}


def test_speech_train_tts_learns_and_exports_a_voice(voice_run: Path) -> None:
    exported = json.loads((voice_run / "tts/last/config.json").read_text())
    assert exported["task"] == "tts" and exported["step"] == 40
    metrics = exported["metrics"]
    assert {"loss", "mel_l1", "postnet_l1", "duration_mse", "free_mel_l1", "duration_mae"} <= set(metrics)
    assert 0.5 <= metrics["roundtrip_cer"] <= 1.5, "40 steps cannot speak: the shipped recognizer hears noise"
    records = [json.loads(line) for line in (voice_run / "tts/metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in records if "train/loss" in r]
    assert losses[-1] < 0.8 * losses[0]
    samples, rate = Synthesizer.load(voice_run / "tts/last").synthesize("Hello, world.")
    assert rate == 16000 and len(samples) > 160 and torch.isfinite(torch.from_numpy(samples)).all()


def test_alignments_record_their_frame_shift_and_training_checks_it(voice_run: Path) -> None:
    aligned = list(read_manifest(voice_run / "aligned.jsonl"))
    assert {u.frame_shift for u in aligned} == {0.01}  # 160 samples at 16 kHz
    assert {s["frame_shift"] for s in iterate_shards(voice_run / "shards")} == {0.01}
    task = TASKS["tts"](load_config(CONF / "tts/tiny.yaml", ["features.hop_length=200"]))
    with pytest.raises(SpeechError, match=r"aligned in frames of 10 ms, but the features' hop is 12.5 ms"):
        task.check_frame_shift(aligned[0].id, aligned[0].frame_shift)
    task.check_frame_shift(aligned[0].id, None)  # alignments from before frame shifts are taken as they are
