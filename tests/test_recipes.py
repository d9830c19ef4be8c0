"""The recipes from a user's corpus to a model folder (pipelines/voice/run.sh, pipelines/finetune/run.sh):
corpora with bad items are cleaned item by item and counted; too little data stops the run in one line; both
recipes run end to end in --smoke mode on corpora made here with flite, and their folders load and speak or
transcribe (marked recipe_smoke: ``pytest -m recipe_smoke``; a minute or two each)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from speech.audio import audio_info, read_audio, resample, write_audio
from speech.data.clean import Limits, prepare, skip_kind, split
from speech.data.importers import CorpusError
from speech.data.manifest import Utterance, read_manifest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from bench_recipes import SENTENCES, flite, ljspeech_corpus, pairs_corpus  # noqa: E402

needs_flite = pytest.mark.skipif(
    shutil.which("flite") is None, reason="flite is not installed (make setup installs it as root)"
)


# --- bad corpora ------------------------------------------------------------------------------------------


def add_bad_clips(wavs: Path) -> list[str]:
    """Clips with every problem a voice corpus can have, beside good ones; their metadata lines."""
    speech, rate = flite(SENTENCES[300])
    write_audio(wavs / "rate8k.wav", resample(speech, rate, 8000), 8000)
    write_audio(wavs / "rate44k.wav", resample(speech, rate, 44100), 44100)  # kept, resampled
    write_audio(wavs / "short.wav", speech[: rate // 5], rate)
    write_audio(wavs / "long.wav", np.tile(speech, int(25 * rate / len(speech)) + 1), rate)
    write_audio(wavs / "silent.wav", np.zeros(2 * rate, np.float32), rate)
    write_audio(wavs / "notext.wav", speech, rate)
    write_audio(wavs / "dup.wav", speech, rate)
    write_audio(wavs / "punctuation.wav", speech, rate)
    (wavs / "garbage.wav").write_bytes(b"RIFF this is not audio at all" * 50)
    return [
        f"rate8k|{SENTENCES[300]}|",
        f"rate44k|{SENTENCES[300]}|",
        f"short|{SENTENCES[300]}|",
        f"long|{SENTENCES[300]}|",
        f"silent|{SENTENCES[300]}|",
        "notext||",
        f"dup|{SENTENCES[300]}|",
        f"dup|{SENTENCES[301]}|",
        f"garbage|{SENTENCES[300]}|",
        f"missing|{SENTENCES[300]}|",
        "punctuation|?! ...|",
    ]


@needs_flite
def test_a_voice_corpus_with_bad_items_keeps_the_good_ones_and_counts_the_rest(tmp_path: Path) -> None:
    corpus = ljspeech_corpus(tmp_path / "lj", 24)
    lines = add_bad_clips(corpus / "wavs")
    metadata = corpus / "metadata.csv"
    # One line of the index in Latin-1 (a transcript with an accent saved by another program).
    metadata.write_bytes(
        metadata.read_bytes() + "\n".join(lines).encode() + "\nlatin|Caf\u00e9 au lait|\n".encode("latin-1")
    )
    out = tmp_path / "data"
    prepared = prepare("ljspeech", corpus, out, Limits(min_rate=16000, min_utterances=10))

    kinds = json.loads((out / "corpus.json").read_text())["skipped_by_kind"]
    assert kinds == {
        "sample rate too low": 1,
        "too short": 1,
        "too long": 1,
        "silent": 1,
        "empty transcript": 1,
        "duplicate id": 1,
        "not a recognised audio format": 1,
        "file not found": 1,
        "nothing to say": 1,
        "not UTF-8 text": 1,
    }
    skipped = dict(prepared.skipped)
    latin_line = 24 + len(lines) + 1
    assert skipped[f"{metadata}:{latin_line}"].startswith("not UTF-8 text (byte 0xe9")
    assert skipped[str((corpus / "wavs" / "rate8k.wav").absolute())].startswith(
        "sample rate too low: 8000 Hz"
    )
    assert len((out / "skipped.tsv").read_text().splitlines()) == 10
    kept = [u for name in ("train", "valid", "test") for u in read_manifest(out / f"{name}.jsonl")]
    assert sorted(u.id for u in kept) == sorted([f"LJ{i:04d}" for i in range(24)] + ["rate44k", "dup"])
    assert next(u for u in kept if u.id == "dup").text == SENTENCES[300]  # the first of the two is kept
    assert prepared.rates == {22050: 24, 44100: 1, 16000: 1}
    for utterance in kept:  # every clip rewritten at the toolkit's rate, its duration as long as before
        info = audio_info(utterance.audio)
        assert info.sample_rate == 16000 and info.channels == 1
        assert info.duration == pytest.approx(utterance.duration, abs=1e-3)
    assert [len(prepared.splits[name]) for name in ("train", "valid", "test")] == [21, 2, 3]


@needs_flite
def test_a_folder_corpus_reports_missing_empty_and_undecodable_transcripts(tmp_path: Path) -> None:
    corpus = pairs_corpus(tmp_path / "pairs", 12)
    (corpus / "slt" / "0000.txt").unlink()
    (corpus / "rms" / "0001.txt").write_text("  \n", encoding="utf-8")
    (corpus / "awb" / "0002.txt").write_bytes("na\u00efve".encode("latin-1"))
    prepared = prepare("folder", corpus, tmp_path / "data", Limits(min_utterances=3))
    assert {skip_kind(reason) for _, reason in prepared.skipped} == {
        "no transcript",
        "empty transcript",
        "transcript is not UTF-8 text",
    }
    assert sum(len(u) for u in prepared.splits.values()) == 9
    assert prepared.rates == {16000: 6, 8000: 3}  # kal's 8 kHz kept for a recognizer (no --min-rate)


@needs_flite
def test_too_little_left_stops_the_recipe_with_one_line(tmp_path: Path) -> None:
    corpus = pairs_corpus(tmp_path / "pairs", 6)
    for transcript in list(corpus.rglob("*.txt"))[:4]:
        transcript.unlink()
    run = subprocess.run(
        [sys.executable, "pipelines/recipe.py", "prepare", str(corpus), "--format", "folder"]
        + ["--out", str(tmp_path / "data")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert "too little to train on: 2 usable utterances of 6 entries (4 skipped: 4 no transcript)" in last
    assert "at least 20 are needed" in last
    assert run.stderr.count("no transcript (") == 4  # and each one named on its own line
    assert not (tmp_path / "data" / "train.jsonl").exists()


def utterances(speakers: dict[str, int]) -> list[Utterance]:
    return [
        Utterance(f"{speaker}-{index:03d}", f"/{speaker}/{index}.wav", 2.0, "words", speaker)
        for speaker, count in speakers.items()
        for index in range(count)
    ]


def test_known_speakers_are_held_out_whole_and_the_split_is_seeded() -> None:
    corpus = utterances({"ann": 30, "bob": 30, "cat": 30, "dan": 30, "eve": 30})
    splits, rule = split(corpus, seed=3)
    test_speakers = {u.speaker for u in splits["test"]}
    assert len(test_speakers) == 1 and rule.startswith(f"by speaker: {test_speakers.pop()} held out")
    assert not {u.speaker for u in splits["test"]} & {u.speaker for u in splits["train"] + splits["valid"]}
    assert len(splits["valid"]) == 6 and len(splits["train"]) == 114
    again, _ = split(list(reversed(corpus)), seed=3)  # the importer's order does not matter
    assert again == splits
    other, _ = split(corpus, seed=4)
    assert other != splits

    two, rule = split(utterances({"ann": 30, "bob": 30}), seed=3)  # too few speakers to hold one out
    assert rule.startswith("by utterance (2 speakers known)") and len(two["test"]) == 6


@needs_flite
def test_an_index_that_is_not_utf8_at_all_is_refused_whole(tmp_path: Path) -> None:
    corpus = ljspeech_corpus(tmp_path / "lj", 2)
    (corpus / "metadata.csv").write_bytes("LJ0000|Caf\u00e9|\nLJ0001|na\u00efve|\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"metadata.csv: not UTF-8 text .*iconv"):
        prepare("ljspeech", corpus, tmp_path / "data", Limits(min_utterances=1))


# --- the recipes end to end, in smoke mode --------------------------------------------------------------------


def recipe(script: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """Run a recipe (``voice``: pipelines/voice/run.sh; a path ending in .sh: that script); its output lines
    (the run must succeed without a traceback)."""
    path = f"pipelines/{script}" if script.endswith(".sh") else f"pipelines/{script}/run.sh"
    run = subprocess.run(
        ["bash", path, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled", **(env or {})},
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout.strip().splitlines()


def card(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    _, meta, body = text.split("---\n", 2)
    return yaml.safe_load(meta), body


@pytest.fixture
def served() -> Iterator[list]:
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(timeout=60)


@pytest.mark.recipe_smoke
@needs_flite
def test_voice_recipe_smoke_on_an_ljspeech_folder(tmp_path: Path, served: list) -> None:
    corpus = ljspeech_corpus(tmp_path / "myvoice", 50)
    out = tmp_path / "voice"
    lines = recipe(
        "voice", str(corpus), "--format", "ljspeech", "--smoke", "--data", str(tmp_path / "data"),
        "--exp", str(tmp_path / "exp"), "--out", str(out),
    )  # fmt: skip
    assert lines[-1] == str(out)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "vocoder",
    ]
    meta, body = card(out)
    assert meta["pipeline_tag"] == "text-to-speech" and "smoke-test" in meta["tags"]
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert [m["name"] for m in metrics] == ["CER (%) of this voice", "CER (%) of the speaker's recordings"]
    assert metrics[1]["value"] < 20  # the shipped recognizer hears flite's own recordings
    assert "# Voice `myvoice`" in body and "50 entries, 50 kept" in body and "22050 Hz (50)" in body
    assert "| train | 43 |" in body and "copy synthesis" in body and "--smoke" in body

    # speech synthesize --voice DIR speaks with the folder's own vocoder
    (tmp_path / "hello.txt").write_text("Hello there. This is my voice.\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "speech", "synthesize", str(tmp_path / "hello.txt"), "--voice", str(out)]
        + ["-o", str(tmp_path / "said")],
        check=True,
        capture_output=True,
    )
    samples, rate = read_audio(tmp_path / "said" / "hello.wav")
    assert rate == 16000 and len(samples) > 0.2 * rate and np.abs(samples).max() > 0.01
    from speech.synthesizer import Synthesizer

    assert type(Synthesizer.load(out).vocoder).__name__ != "GriffinLim"

    # speech serve --voice DIR serves it by the folder's name
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    serve = [
        sys.executable,
        "-m",
        "speech",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--voice",
        str(out),
    ]
    process = subprocess.Popen(serve, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    served.append(process)
    for line in process.stderr:
        if match := re.search(r"listening on (http://127\.0\.0\.1:\d+)", line):
            break
    else:
        pytest.fail("speech serve did not start")
    response = httpx.post(
        f"{match.group(1)}/v1/audio/speech",
        json={"input": "Hello there.", "voice": "voice", "response_format": "wav"},
        timeout=120,
    )
    assert response.status_code == 200 and response.content[:4] == b"RIFF" and len(response.content) > 3200


@pytest.mark.recipe_smoke
@needs_flite
def test_finetune_recipe_smoke_on_a_folder_of_pairs(tmp_path: Path) -> None:
    corpus = pairs_corpus(tmp_path / "mine", 50)
    (corpus / "slt" / "0000.txt").unlink()  # one bad item: reported, skipped, the run goes on
    out = tmp_path / "model"
    lines = recipe(
        "finetune", str(corpus), "--format", "folder", "--smoke", "--data", str(tmp_path / "data"),
        "--exp", str(tmp_path / "exp"), "--out", str(out),
    )  # fmt: skip
    assert lines[-1] == str(out)
    assert {"config.json", "model.safetensors", "lm.arpa", "decoder.json", "README.md"} <= {
        p.name for p in out.iterdir()
    }
    meta, body = card(out)
    assert meta["pipeline_tag"] == "automatic-speech-recognition" and "smoke-test" in meta["tags"]
    test = [u.speaker for u in read_manifest(tmp_path / "data" / "test.jsonl")]
    assert len(set(test)) == 1 and f"Split by speaker: {test[0]} held out for testing" in body
    assert "49 kept, 1 skipped (1 no transcript)" in body and "8000 Hz (12)" in body
    rows = [line for line in body.splitlines() if line.startswith("| test: ")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| test: before, beam 32 + its LM",
        "| test: after, greedy",
        "| test: after, beam 32 + LM",
    ]

    # speech transcribe --model DIR
    clip = next(iter(read_manifest(tmp_path / "data" / "test.jsonl")))
    subprocess.run(
        [sys.executable, "-m", "speech", "transcribe", clip.audio, "--model", str(out), "--beam", "32"]
        + ["-o", str(tmp_path / "heard")],
        check=True,
        capture_output=True,
    )
    heard = next((tmp_path / "heard").glob("*.txt")).read_text(encoding="utf-8")
    assert len(set(heard.split()) & set(clip.text.lower().split())) >= 2


@pytest.mark.recipe_smoke
def test_vocoder_voice_finetune_smoke_on_aligned_recordings(tmp_path: Path, aligned_librivox: list) -> None:
    """pipelines/vocoder/voice_finetune.sh: shards of the shipped voice's frames with pitch tracks, and a few
    steps of the milestone vocoder on them, into a vocoder folder that vocodes."""
    from speech.data.manifest import write_manifest
    from speech.data.shards import iterate_shards, write_shards

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_manifest(corpus / "train_aligned.jsonl", aligned_librivox[:4])
    write_manifest(corpus / "valid_aligned.jsonl", aligned_librivox[4:])
    recorded = [dataclasses.replace(u, id=f"recorded-{u.id}") for u in aligned_librivox[:2]]
    write_shards(recorded, tmp_path / "recorded")  # frames computed from the audio, mixed in by --mix
    recipe(
        "vocoder/voice_finetune.sh", "--stop-stage", "2", "--steps", "2", "--corpus", str(corpus),
        "--data", str(tmp_path / "data"), "--reuse-tracks", "", "--mix", str(tmp_path / "recorded"),
        env={"EXP": str(tmp_path / "exp")},
    )  # fmt: skip
    samples = list(iterate_shards(tmp_path / "data" / "shards" / "train"))
    assert len(samples) == 4 and all(s["features"].shape[1] == 80 for s in samples)
    with np.load(tmp_path / "data" / "pitch.npz") as tracks:
        assert {f"{u.id}.period" for u in [*aligned_librivox, *recorded]} <= set(tracks.files)
    trained = yaml.safe_load((tmp_path / "exp" / "config.yaml").read_text())
    assert trained["data"]["train"] == [
        str(tmp_path / "data" / "shards" / "train"),
        str(tmp_path / "recorded"),
    ]
    config = json.loads((tmp_path / "exp" / "last" / "config.json").read_text())
    assert config["task"] == "subframe_vocoder" and config["model"]["harmonic_bands"] > 0

    from speech.vocoder import load_vocoder

    audio, rate = load_vocoder(tmp_path / "exp" / "last").vocode(samples[0]["features"])
    assert rate == 16000 and len(audio) > 16000 and np.isfinite(audio).all()


@needs_flite
def test_a_synthesiser_voice_is_still_one_corpus_source(tmp_path: Path) -> None:
    """pipelines/vocoder/run.sh and the default voices make their corpora through stage 1 with --voice."""
    data = tmp_path / "data"
    recipe(
        "voice", "--voice", "flite:slt", "--seed", "7", "--count", "160", "--stage", "1", "--stop-stage", "1",
        "--data", str(data), "--exp", str(tmp_path / "exp"),
    )  # fmt: skip
    made = [u.id for u in read_manifest(data / "manifest.jsonl")]
    splits = {
        name: [u.id for u in read_manifest(data / f"{name}.jsonl")] for name in ("test", "valid", "train")
    }
    assert splits == {"test": made[:100], "valid": made[100:150], "train": made[150:]} and len(made) == 160
    assert {audio_info(u.audio).sample_rate for u in read_manifest(data / "train.jsonl")} == {16000}
