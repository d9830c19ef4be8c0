"""`speech transcribe` and `speech eval` end to end, with a tiny model trained here on real speech.

The tiny model's words are not the point (the shipped model's accuracy is measured by its recipes); these
tests check the job: inputs, outputs, timestamps, resuming, failures, exit codes.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio, write_audio
from speech.cli import main
from speech.config import load_config
from speech.data.importers import import_sphinx
from speech.data.manifest import write_manifest
from speech.data.shards import write_shards
from speech.recognizer import ModelError, Recognizer
from speech.scoring import error_rates
from speech.train.trainer import Trainer
from speech.transcript import FORMATS

TINY = Path(__file__).resolve().parents[1] / "conf" / "asr" / "tiny.yaml"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, librivox_dir: Path) -> Path:
    work = tmp_path_factory.mktemp("model")
    write_shards(import_sphinx(librivox_dir).utterances, work / "shards")
    config = load_config(
        TINY, [f"data.train={work / 'shards'}", f"train.out_dir={work / 'run'}", "train.max_steps=5"]
    )
    Trainer(config).fit()
    return work / "run" / "last"


@pytest.fixture()
def inputs(tmp_path: Path, librivox_dir: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    clips = sorted(librivox_dir.glob("*.wav"))
    shutil.copy(clips[0], folder / "a.wav")
    samples, rate = read_audio(clips[1])
    write_audio(folder / "sub" / "b.flac", samples, rate)
    long = np.concatenate([read_audio(clip, 16000)[0] for clip in clips] * 2)  # ~50 s, cut at pauses
    write_audio(folder / "long.wav", long, 16000)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    return folder


def test_transcribes_a_folder_to_every_format_and_resumes(
    tmp_path: Path, model: Path, inputs: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    status = main(
        [
            "transcribe",
            str(inputs),
            "-o",
            str(out),
            "--model",
            str(model),
            "--min-confidence",
            "0",  # a 5-step model hears nothing with confidence: keep its stretches to test their handling
            "--format",
            "all",
            "--batch-seconds",
            "30",
        ]
    )
    assert status == 1  # broken.wav failed, the others were done
    captured = capsys.readouterr()
    assert "3 transcribed" in captured.out and "1 failed" in captured.out
    assert "broken.wav" in captured.err and "Traceback" not in captured.err
    for stem in ("a", "sub/b", "long"):
        for suffix in ("txt", "json", "srt", "vtt", "tsv"):
            assert (out / f"{stem}.{suffix}").is_file(), (stem, suffix)
    long = json.loads((out / "long.json").read_text())
    assert long["duration"] == pytest.approx(50.0, abs=5) and len(long["segments"]) >= 3
    assert long["segments"][0]["start"] == 0 and long["segments"][-1]["end"] == pytest.approx(
        long["duration"], abs=0.01
    )
    for word in (w for s in long["segments"] for w in s["words"]):
        assert 0 <= word["start"] <= word["end"] <= long["duration"] and 0 <= word["probability"] <= 1
    assert (out / "failures.txt").read_text().startswith(str(inputs / "broken.wav"))

    (inputs / "broken.wav").unlink()
    (out / "a.txt").unlink()
    assert (
        main(["transcribe", str(inputs / "*.wav"), "-o", str(out), "--model", str(model), "--format", "txt"])
        == 0
    )
    assert "1 transcribed" in capsys.readouterr().out and (out / "a.txt").is_file()  # long.txt was kept


def test_a_whisper_users_command_works_unchanged(tmp_path: Path, model: Path, inputs: Path) -> None:
    """``--output_dir X --output_format all``, as Whisper spells them; the JSON words have Whisper's keys."""
    out = tmp_path / "whisper"
    command = ["transcribe", str(inputs / "a.wav"), "--model", str(model), "--output_format", "all"]
    command += ["--min-confidence", "0"]  # the untrained model's words are all unsure
    assert main([*command, "--output_dir", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == [f"a.{suffix}" for suffix in sorted(FORMATS)]
    words = [w for s in json.loads((out / "a.json").read_text())["segments"] for w in s["words"]]
    assert words and all(set(word) == {"word", "start", "end", "probability"} for word in words)
    assert main([*command, "--output-dir", str(out), "-f", "srt", "--overwrite"]) == 0  # the dashed spellings


def test_inputs_from_a_list_file_and_bad_options(
    tmp_path: Path, model: Path, inputs: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "list.txt").write_text(f"{inputs / 'a.wav'}\n\n{inputs / 'sub' / 'b.flac'}\n")
    assert (
        main(["transcribe", f"@{tmp_path / 'list.txt'}", "-o", str(tmp_path / "o"), "--model", str(model)])
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.json", "a.txt", "b.json", "b.txt"]
    assert main(["transcribe", str(inputs / "a.wav"), "--format", "docx", "--model", str(model)]) == 1
    assert main(["transcribe", str(inputs / "a.wav"), "--model", str(tmp_path)]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert any("docx" in line for line in errors) and any("not a model folder" in line for line in errors)
    with pytest.raises(ModelError):
        Recognizer.load(tmp_path)


def test_eval_scores_a_manifest(
    tmp_path: Path, model: Path, librivox_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    write_manifest(tmp_path / "m.jsonl", import_sphinx(librivox_dir).utterances)
    assert (
        main(
            [
                "eval",
                str(tmp_path / "m.jsonl"),
                "--model",
                str(model),
                "--json",
                str(tmp_path / "s.json"),
                "--worst",
                "2",
            ]
        )
        == 0
    )
    assert "WER" in capsys.readouterr().out
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["utterances"] == 5 and scores["cer"] >= 0 and scores["wer"] >= 0
    assert {row["reference"] for row in scores["utterances_scored"]} >= {
        "he was not an ill disposed young man"
    }


def eval_with_speakers(
    tmp_path: Path, model: Path, librivox_dir: Path, speakers: list[str], *options: str
) -> dict:
    """`speech eval` on the librivox files, their speaker fields set to ``speakers``; the JSON scores."""
    utterances = import_sphinx(librivox_dir).utterances
    write_manifest(
        tmp_path / "m.jsonl",
        [dataclasses.replace(u, speaker=s) for u, s in zip(utterances, speakers, strict=True)],
    )
    arguments = ["eval", str(tmp_path / "m.jsonl"), "--model", str(model), *options]
    assert main([*arguments, "--json", str(tmp_path / "s.json")]) == 0
    return json.loads((tmp_path / "s.json").read_text())


def test_eval_scores_each_speaker(
    tmp_path: Path, model: Path, librivox_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    speakers = ["anna", "ben", "anna", "ben", "anna"]
    scores = eval_with_speakers(tmp_path, model, librivox_dir, speakers, "--by-speaker")
    assert "by speaker" in capsys.readouterr().out
    assert {name: s["utterances"] for name, s in scores["speakers"].items()} == {"anna": 3, "ben": 2}
    rows = scores["utterances_scored"]
    anna = error_rates([r["reference"] for r in rows[::2]], [r["hypothesis"] for r in rows[::2]])
    assert scores["speakers"]["anna"]["cer"] == pytest.approx(anna["cer"])
    cers = [s["cer"] for s in scores["speakers"].values()]
    assert cers == sorted(cers, reverse=True)


def test_eval_scores_speaker_groups(
    tmp_path: Path, model: Path, librivox_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    speakers = ["espeak:en+f4", "flite:slt", "espeak:en-us+m3", "flite:slt", "plain"]
    scores = eval_with_speakers(tmp_path, model, librivox_dir, speakers, "--speaker-group", "^[^:]+(?=:)")
    assert "by speaker group" in capsys.readouterr().out
    groups = {name: s["utterances"] for name, s in scores["speakers"].items()}
    assert groups == {"espeak": 2, "flite": 2, "plain": 1}
    rows = [scores["utterances_scored"][i] for i in (0, 2)]
    espeak = error_rates([r["reference"] for r in rows], [r["hypothesis"] for r in rows])
    assert scores["speakers"]["espeak"]["cer"] == pytest.approx(espeak["cer"])


def test_eval_rejects_a_bad_speaker_group(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture) -> None:
    write_manifest(tmp_path / "m.jsonl", [])
    assert main(["eval", str(tmp_path / "m.jsonl"), "--model", str(model), "--speaker-group", "(espeak"]) != 0
    err = capsys.readouterr().err
    assert "--speaker-group: '(espeak' is not a regular expression" in err and "Traceback" not in err


def test_tuned_decoder_settings_travel_with_the_model(
    tmp_path: Path, model: Path, librivox_dir: Path
) -> None:
    """tools/tune_decoder.py picks LM weights on held-out data; Recognizer.load uses them for beam search."""
    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    write_manifest(tmp_path / "m.jsonl", import_sphinx(librivox_dir).utterances)
    tools = Path(__file__).resolve().parents[1] / "tools"
    build = [sys.executable, str(tools / "build_lm.py"), str(tmp_path / "m.jsonl"), "--jobs", "1"]
    subprocess.run([*build, "--units", "chars", "--order", "4", "-o", str(folder / "lm.arpa")], check=True)
    tune = [sys.executable, str(tools / "tune_decoder.py"), str(tmp_path / "m.jsonl"), "--model", str(folder)]
    tuning = ["--lm-weights", "0.5,1", "--word-scores", "0", "--beam", "4", "--beam-thresholds", "50,12"]
    subprocess.run([*tune, *tuning], check=True)
    settings = json.loads((folder / "decoder.json").read_text())
    assert settings["lm_weight"] in (0.5, 1.0) and settings["word_score"] == 0.0
    assert settings["beam_threshold"] in (50.0, 12.0)
    decoder = Recognizer.load(folder, beam=4).decoder
    assert decoder.lm == folder / "lm.arpa" and decoder.lexicon is None
    assert decoder.beam_threshold == settings["beam_threshold"]
    (folder / "decoder.json").write_text('{"lm_weight": 1, "beam": 3}')
    with pytest.raises(ModelError, match="decoder.json: not decoder settings"):
        Recognizer.load(folder, beam=4)


def test_output_names_stay_inside_the_folder_and_never_overwrite_each_other(
    tmp_path: Path,
    model: Path,
    inputs: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clip = inputs / "a.wav"
    for name in ("d/..wav", "x/same.wav", "y/same.wav", "talk.wav"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(clip, tmp_path / name)
    write_audio(tmp_path / "talk.flac", *read_audio(inputs / "sub" / "b.flac"))
    sources = [
        str(tmp_path / name) for name in ("d/..wav", "x/same.wav", "y/same.wav", "talk.wav", "talk.flac")
    ]
    work = tmp_path / "work"
    work.mkdir()
    (work / "OUT.txt").write_text("mine\n")
    command = ["transcribe", *sources, "-o", str(work / "OUT"), "--model", str(model), "--format", "txt"]
    assert main(command) == 0
    assert "5 transcribed" in capsys.readouterr().out
    assert (work / "OUT.txt").read_text() == "mine\n" and sorted(p.name for p in work.iterdir()) == [
        "OUT",
        "OUT.txt",
    ]
    names = ["__wav.txt", "same-2.txt", "same.txt", "talk-2.txt", "talk.txt"]
    assert sorted(p.name for p in (work / "OUT").iterdir()) == names
    alone = ["transcribe", sources[-1], "-o", str(tmp_path / "one"), "--model", str(model), "--format", "txt"]
    assert main(alone) == 0
    assert (work / "OUT" / "talk-2.txt").read_text() == (tmp_path / "one" / "talk.txt").read_text()  # flac's
    assert (work / "OUT" / "talk.txt").read_text() == (work / "OUT" / "same.txt").read_text()  # wav's
    assert main(command) == 0
    assert "0 transcribed" in capsys.readouterr().out  # a rerun finds each input's outputs by the same names

    monkeypatch.chdir(work)  # -o . with a stem of '.' once named the folder itself: a traceback
    assert main(["transcribe", sources[0], "--model", str(model), "--format", "txt"]) == 0
    assert (work / "__wav.txt").is_file() and sorted(p.name for p in tmp_path.iterdir() if p.suffix) == [
        "talk.flac",
        "talk.wav",
    ]


def test_an_output_folder_that_is_a_file_is_one_line(
    tmp_path: Path, model: Path, inputs: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "taken").write_text("mine\n")
    assert (
        main(["transcribe", str(inputs / "a.wav"), "-o", str(tmp_path / "taken"), "--model", str(model)]) == 1
    )
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'taken'}: -o must be a folder" in err and "Traceback" not in err
    assert (tmp_path / "taken").read_text() == "mine\n"


def test_an_output_that_cannot_be_written_is_reported_and_the_batch_goes_on(
    tmp_path: Path,
    model: Path,
    inputs: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    (out / "a.txt").mkdir(parents=True)  # a folder where a.txt should go
    sources = [str(inputs / "a.wav"), str(inputs / "sub" / "b.flac")]
    assert main(["transcribe", *sources, "-o", str(out), "--model", str(model), "--format", "txt"]) == 1
    captured = capsys.readouterr()
    assert "1 transcribed" in captured.out and "1 failed" in captured.out and "Traceback" not in captured.err
    assert f"error: {out / 'a.txt'}: cannot write (Is a directory)" in captured.err
    assert (out / "b.txt").is_file() and (out / "failures.txt").read_text().startswith(f"{out / 'a.txt'}:")

    calls = []

    def disk_full(descriptor: int) -> None:  # the disk fills up after the first file
        calls.append(descriptor)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("speech.audio.os.fsync", disk_full)
    full = tmp_path / "full"
    assert main(["transcribe", *sources, "-o", str(full), "--model", str(model), "--format", "txt"]) == 1
    captured = capsys.readouterr()
    assert "1 transcribed" in captured.out and "1 failed" in captured.out and "Traceback" not in captured.err
    assert f"{full / 'b.txt'}: cannot write (No space left on device)" in captured.err
    assert f"error: {full / 'failures.txt'}: cannot write (No space left on device)" in captured.err
    assert sorted(p.name for p in full.iterdir()) == ["a.txt"]  # no temporaries, no half-written files


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--batch-seconds", "-5"], "batch seconds must be a positive number, got -5.0"),
        (["--batch-seconds", "nan"], "batch seconds must be a positive number, got nan"),
        (["--beam", "-3"], "beam size must be 0 (greedy decoding) or more, got -3"),
    ],
)
def test_bad_option_values_are_one_line(
    tmp_path: Path, model: Path, inputs: Path, capsys: pytest.CaptureFixture, options: list[str], problem: str
) -> None:
    command = ["transcribe", str(inputs / "a.wav"), "-o", str(tmp_path / "o"), "--model", str(model)]
    assert main([*command, *options]) == 1
    assert capsys.readouterr().err == f"error: {problem}\n"
    assert not (tmp_path / "o").exists()


def test_a_glob_that_matches_nothing_fails_the_run(
    tmp_path: Path, model: Path, inputs: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "o"
    pattern = str(inputs / "*.opus")
    assert main(["transcribe", pattern, str(inputs / "a.wav"), "-o", str(out), "--model", str(model)]) == 1
    captured = capsys.readouterr()
    assert "1 transcribed" in captured.out and "1 failed" in captured.out
    assert f"error: {pattern}: file not found" in captured.err and (out / "a.txt").is_file()


def test_a_file_named_with_a_newline_fails_in_one_line(
    tmp_path: Path, model: Path, inputs: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "two\nlines.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(5000))
    out = tmp_path / "o"
    sources = [str(bad), str(tmp_path / "noise.mp3"), str(inputs / "a.wav")]
    assert main(["transcribe", *sources, "-o", str(out), "--model", str(model)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith(f"error: {tmp_path}/two\\nlines.wav: ")
    assert errors[1] == f"error: {tmp_path / 'noise.mp3'}: not a recognised audio format"
    failures = (out / "failures.txt").read_text().splitlines()
    assert [line[len("error: ") :] for line in errors] == failures and len(failures) == 2


def test_noise_is_not_transcribed(tmp_path: Path, capsys: pytest.CaptureFixture, librivox_dir: Path) -> None:
    """A minute of pink and brown noise used to come out as invented words; real speech keeps every word."""
    generator = np.random.default_rng(0)
    white = generator.normal(size=(2, 60 * 16000))
    spectrum = np.fft.rfft(white, axis=1)
    frequencies = np.fft.rfftfreq(white.shape[1], 1 / 16000)
    for row, slope in enumerate((0.5, 1.0)):  # pink (-3 dB/octave) and brown (-6 dB/octave)
        spectrum[row, 1:] /= frequencies[1:] ** slope
    noises = np.fft.irfft(spectrum, axis=1)
    for name, noise in zip(("pink", "brown"), noises, strict=True):
        write_audio(tmp_path / f"{name}.wav", 0.3 * noise / np.abs(noise).max(), 16000)
    speech_file = sorted(librivox_dir.glob("*.wav"))[0]
    out = tmp_path / "out"
    common = ["--format", "txt", "--overwrite"]
    assert (
        main(["transcribe", str(tmp_path / "pink.wav"), str(tmp_path / "brown.wav"), "-o", str(out), *common])
        == 0
    )
    assert (out / "pink.txt").read_text().strip() == "" and (out / "brown.txt").read_text().strip() == ""
    main(["transcribe", str(tmp_path / "pink.wav"), "-o", str(out), "--min-confidence", "0", *common])
    assert len((out / "pink.txt").read_text().split()) > 5  # what the filter removes: invented words
    main(["transcribe", str(speech_file), "-o", str(out), *common])
    kept = (out / f"{speech_file.stem}.txt").read_text()
    main(["transcribe", str(speech_file), "-o", str(out), "--min-confidence", "0", *common])
    assert kept == (out / f"{speech_file.stem}.txt").read_text() and len(kept.split()) > 10
    capsys.readouterr()
