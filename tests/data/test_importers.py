"""Each importer on a tiny corpus in its real layout, with real audio and one broken entry of each kind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speech.audio import write_audio
from speech.data.importers import (
    IMPORTERS,
    CorpusError,
    ImportResult,
    import_commonvoice,
    import_corpus,
    import_csv,
    import_folder,
    import_kaldi,
    import_librispeech,
    import_ljspeech,
    import_sphinx,
)

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
MP3 = "MP3" in sf.available_formats()


def speak(path: Path, text: str) -> float:
    """Write ``text`` spoken by espeak-ng (22.05 kHz) in the format ``path``'s suffix names; returns seconds.

    Without espeak-ng a tone of a length that depends on the text stands in, so the layouts are still tested.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("espeak-ng"):
        wav = path.with_name(path.name + ".espeak.wav")
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
        samples, rate = sf.read(wav, dtype="float32")
        wav.unlink()
    else:
        rate = 22050
        samples = 0.3 * np.sin(np.arange(int(0.08 * len(text) * rate)) * 2 * np.pi * 220 / rate)
    if path.suffix == ".mp3":
        sf.write(path, samples, rate, format="MP3", subtype="MPEG_LAYER_III")
    elif path.suffix == ".ogg":
        sf.write(path, samples, rate, format="OGG", subtype="VORBIS")
    else:
        write_audio(path, samples, rate)
    return sf.info(str(path)).duration


def tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_audio(path, 0.2 * np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 440 / rate), rate)
    return path


def broken(path: Path, kind: str) -> Path:
    """An empty file or one of garbage bytes with an audio suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"" if kind == "empty" else b"this is not audio at all " * 20)
    return path


def by_id(result: ImportResult) -> dict:
    return {utterance.id: utterance for utterance in result.utterances}


def reasons(result: ImportResult) -> dict[str, str]:
    return dict(result.skipped)


def test_registry_names_every_layout():
    assert set(IMPORTERS) == {"librispeech", "ljspeech", "commonvoice", "kaldi", "folder", "csv", "sphinx"}


def test_librispeech_subset_and_parent_folder(tmp_path: Path):
    root = tmp_path / "LibriSpeech"
    chapter = root / "train-clean-100" / "19" / "198"
    durations = {
        "19-198-0000": speak(chapter / "19-198-0000.flac", "northanger abbey"),
        "19-198-0001": speak(chapter / "19-198-0001.flac", "this little work was finished in the year"),
    }
    broken(chapter / "19-198-0003.flac", "empty")
    speak(chapter / "19-198-0004.flac", "no transcript for me")
    (chapter / "19-198.trans.txt").write_text(
        "19-198-0000 NORTHANGER ABBEY\n"
        "19-198-0001 THIS LITTLE WORK WAS FINISHED IN THE YEAR\n"
        "19-198-0002 THIS FILE IS MISSING\n"
        "19-198-0003 THIS FILE IS EMPTY\n"
    )
    other = root / "dev-clean" / "84" / "121123"
    durations["84-121123-0000"] = speak(other / "84-121123-0000.flac", "go do you hear")
    (other / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n")

    subset = import_librispeech(root / "train-clean-100")
    utterances = by_id(subset)
    assert sorted(utterances) == ["19-198-0000", "19-198-0001"]
    first = utterances["19-198-0000"]
    assert first.text == "NORTHANGER ABBEY" and first.speaker == "19"
    assert first.audio == str((chapter / "19-198-0000.flac").absolute())
    assert first.duration == pytest.approx(durations["19-198-0000"], abs=1e-4)
    skipped = reasons(subset)
    assert skipped[str((chapter / "19-198-0002.flac").absolute())] == "file not found"
    assert skipped[str((chapter / "19-198-0003.flac").absolute())] == "file is empty"
    assert "no transcript" in skipped[str((chapter / "19-198-0004.flac").absolute())]
    assert len(subset.skipped) == 3

    both = import_librispeech(root)
    assert sorted(by_id(both)) == ["19-198-0000", "19-198-0001", "84-121123-0000"]
    assert by_id(both)["84-121123-0000"].speaker == "84"
    assert both.duration == pytest.approx(sum(durations.values()), abs=1e-3)


def test_librispeech_wrong_folder_is_an_error(tmp_path: Path):
    with pytest.raises(CorpusError, match="trans.txt"):
        import_librispeech(tmp_path)
    with pytest.raises(CorpusError, match="not found"):
        import_librispeech(tmp_path / "nowhere")


def test_ljspeech_prefers_normalized_text(tmp_path: Path):
    wavs = tmp_path / "LJSpeech-1.1" / "wavs"
    first = speak(wavs / "LJ001-0001.wav", "printing in the only sense")
    speak(wavs / "LJ001-0002.wav", "in being comparatively modern")
    broken(wavs / "LJ001-0004.wav", "corrupt")
    (wavs.parent / "metadata.csv").write_text(
        "LJ001-0001|Printing, in the only sense, in 1 case|Printing, in the only sense, in one case\n"
        "LJ001-0002|in being comparatively modern.|\n"
        "LJ001-0003|this one has no audio|this one has no audio\n"
        "LJ001-0004|corrupt audio|corrupt audio\n"
        "a line without separators\n",
        encoding="utf-8",
    )
    result = import_ljspeech(wavs.parent)
    utterances = by_id(result)
    assert sorted(utterances) == ["LJ001-0001", "LJ001-0002"]
    assert utterances["LJ001-0001"].text == "Printing, in the only sense, in one case"
    assert utterances["LJ001-0002"].text == "in being comparatively modern."
    assert utterances["LJ001-0001"].speaker == "ljspeech"
    assert utterances["LJ001-0001"].duration == pytest.approx(first, abs=1e-4)
    skipped = reasons(result)
    assert skipped[str((wavs / "LJ001-0003.wav").absolute())] == "file not found"
    assert skipped[str((wavs / "LJ001-0004.wav").absolute())] == "not a recognised audio format"
    assert skipped[f"{wavs.parent / 'metadata.csv'}:5"].startswith("expected")
    with pytest.raises(CorpusError, match="metadata.csv"):
        import_ljspeech(tmp_path)


def test_commonvoice_reads_the_split_tsv(tmp_path: Path):
    # libsndfile >= 1.1 decodes and encodes MP3, as Common Voice ships it; older builds get WAV stand-ins.
    suffix = ".mp3" if MP3 else ".wav"
    locale = tmp_path / "cv-corpus" / "en"
    clips = locale / "clips"
    first = speak(clips / f"common_voice_en_1{suffix}", "it's fine, he said")
    speak(clips / f"common_voice_en_2{suffix}", "the second clip")
    speak(clips / f"common_voice_en_4{suffix}", "a clip in the dev split")
    broken(clips / f"common_voice_en_5{suffix}", "corrupt")
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\n"
    (locale / "train.tsv").write_text(
        header
        + f'aaa\tcommon_voice_en_1{suffix}\tIt\'s "fine," he said.\t2\t0\t\t\t\n'
        + f"bbb\tcommon_voice_en_2{suffix}\tThe second clip.\t2\t0\t\t\t\n"
        + f"bbb\tcommon_voice_en_3{suffix}\tThis clip was never downloaded.\t2\t0\t\t\t\n"
        + f"ccc\tcommon_voice_en_5{suffix}\tA corrupt clip.\t2\t0\t\t\t\n"
    )
    (locale / "dev.tsv").write_text(
        header + f"ddd\tcommon_voice_en_4{suffix}\tA clip in the dev split.\t2\t0\t\t\t\n"
    )

    result = import_commonvoice(locale)
    utterances = by_id(result)
    assert sorted(utterances) == ["common_voice_en_1", "common_voice_en_2"]
    assert utterances["common_voice_en_1"].text == 'It\'s "fine," he said.'
    assert utterances["common_voice_en_1"].speaker == "aaa"
    assert utterances["common_voice_en_1"].duration == pytest.approx(first, abs=1e-3)
    assert utterances["common_voice_en_1"].audio.endswith(suffix)
    skipped = reasons(result)
    assert skipped[str((clips / f"common_voice_en_3{suffix}").absolute())] == "file not found"
    assert str((clips / f"common_voice_en_5{suffix}").absolute()) in skipped

    dev = import_commonvoice(locale, split="dev")
    assert [(u.id, u.speaker) for u in dev.utterances] == [("common_voice_en_4", "ddd")]
    with pytest.raises(CorpusError, match="splits here: dev, train"):
        import_commonvoice(locale, split="test")


@pytest.mark.skipif(not MP3, reason="this libsndfile cannot decode MP3")
def test_commonvoice_mp3_duration_matches_the_source(tmp_path: Path):
    clip = tmp_path / "clips" / "a.mp3"
    tone(tmp_path / "a.wav", 1.5)
    samples, rate = sf.read(tmp_path / "a.wav")
    clip.parent.mkdir()
    sf.write(clip, samples, rate, format="MP3", subtype="MPEG_LAYER_III")
    (tmp_path / "train.tsv").write_text("client_id\tpath\tsentence\nx\ta.mp3\ta tone\n")
    (utterance,) = import_commonvoice(tmp_path).utterances
    assert utterance.duration == pytest.approx(1.5, abs=0.05)


def test_kaldi_segments_and_pipes(tmp_path: Path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    recording = tmp_path / "audio" / "rec1.wav"
    total = speak(recording, "the first part of the recording. and then the second part of the recording")
    (data / "wav.scp").write_text(f"rec1 {recording}\nrec2 sph2pipe -f wav /corpus/rec2.sph |\n")
    (data / "segments").write_text(
        "spk1-utt1 rec1 0.00 1.20\n"
        "spk1-utt2 rec1 1.20 -1\n"
        "spk1-utt3 rec1 50.0 51.0\n"
        "spk2-utt4 rec2 0.0 1.0\n"
        "spk1-utt5 rec9 0.0 1.0\n"
    )
    (data / "text").write_text(
        "spk1-utt1 THE FIRST PART\nspk1-utt2 AND THEN THE SECOND PART\nspk1-utt3 PAST THE END\n"
        "spk2-utt4 IN A PIPE\nspk1-utt5 UNKNOWN RECORDING\nspk1-utt6 NO SEGMENT\n"
    )
    (data / "utt2spk").write_text("spk1-utt1 spk1\nspk1-utt2 spk1\nspk1-utt3 spk1\nspk2-utt4 spk2\n")

    result = import_kaldi(data)
    utterances = by_id(result)
    assert sorted(utterances) == ["spk1-utt1", "spk1-utt2"]
    one, two = utterances["spk1-utt1"], utterances["spk1-utt2"]
    assert (one.offset, one.duration, one.speaker, one.text) == (0.0, 1.2, "spk1", "THE FIRST PART")
    assert two.offset == 1.2 and two.duration == pytest.approx(total - 1.2, abs=1e-4)
    assert one.audio == two.audio == str(recording)
    skipped = reasons(result)
    assert "command pipe" in skipped["rec2"]
    assert "outside the recording" in skipped[str(recording)]
    assert "not in wav.scp" in skipped["spk1-utt5"]
    assert "no audio" in skipped["spk1-utt6"]


def test_kaldi_without_segments_resolves_relative_paths(tmp_path: Path):
    data = tmp_path / "data"
    duration = speak(data / "wav" / "a.wav", "hello there")
    broken(data / "wav" / "c.wav", "empty")
    (data / "wav.scp").write_text("a wav/a.wav\nb wav/b.wav\nc wav/c.wav\nd wav/d.wav\n")
    (data / "text").write_text("a HELLO THERE\nb NO AUDIO FILE\nc EMPTY AUDIO\n")
    result = import_kaldi(data)
    (utterance,) = result.utterances
    assert (utterance.id, utterance.text, utterance.speaker) == ("a", "HELLO THERE", "")
    assert utterance.audio == str((data / "wav" / "a.wav").absolute())
    assert utterance.duration == pytest.approx(duration, abs=1e-4)
    skipped = reasons(result)
    assert skipped[str((data / "wav" / "b.wav").absolute())] == "file not found"
    assert skipped[str((data / "wav" / "c.wav").absolute())] == "file is empty"
    assert skipped[str((data / "wav" / "d.wav").absolute())] == "no transcript for 'd'"


def test_folder_of_audio_with_transcripts(tmp_path: Path):
    corpus = tmp_path / "recordings"
    durations = {
        "alice-001": speak(corpus / "alice" / "001.wav", "good morning"),
        "bob-001": speak(corpus / "bob" / "001.flac", "good evening"),
        "bob-sub-002": speak(corpus / "bob" / "sub" / "002.ogg", "good night"),
    }
    (corpus / "alice" / "001.txt").write_text("Good morning!\n")
    (corpus / "bob" / "001.txt").write_text("Good\nevening.\n")
    (corpus / "bob" / "sub" / "002.txt").write_text("Good night.")
    speak(corpus / "carol" / "003.wav", "no transcript")
    broken(corpus / "dave" / "004.wav", "corrupt")
    (corpus / "dave" / "004.txt").write_text("Corrupt audio.")
    (corpus / "notes.txt").write_text("a text file with no audio is not an entry")

    result = import_folder(corpus)
    utterances = by_id(result)
    assert sorted(utterances) == ["alice-001", "bob-001", "bob-sub-002"]
    assert utterances["alice-001"].text == "Good morning!" and utterances["alice-001"].speaker == "alice"
    assert utterances["bob-001"].text == "Good evening." and utterances["bob-001"].speaker == "bob"
    assert utterances["bob-sub-002"].speaker == "sub"
    for id, seconds in durations.items():
        assert utterances[id].duration == pytest.approx(seconds, abs=1e-3)
    skipped = reasons(result)
    assert "003.txt not found" in skipped[str((corpus / "carol" / "003.wav").absolute())]
    assert skipped[str((corpus / "dave" / "004.wav").absolute())] == "not a recognised audio format"
    assert len(result.skipped) == 2


def test_folder_without_audio_is_an_error(tmp_path: Path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(CorpusError, match="no audio files"):
        import_folder(tmp_path)
    with pytest.raises(CorpusError, match="not found"):
        import_folder(tmp_path / "missing")


def test_csv_with_default_and_custom_columns(tmp_path: Path):
    folder = tmp_path / "corpus"
    first = speak(folder / "clips" / "one.wav", "one two three")
    elsewhere = tmp_path / "elsewhere" / "two.flac"
    second = speak(elsewhere, "four five six")
    broken(folder / "clips" / "empty.wav", "empty")
    (folder / "list.csv").write_text(
        "audio,text,who\n"
        'clips/one.wav,"One, two, three.",ann\n'
        f"{elsewhere},Four five six.,ben\n"
        "clips/missing.wav,Missing.,ann\n"
        "clips/empty.wav,Empty.,ann\n"
        ",No audio path.,ann\n"
    )
    result = import_csv(folder / "list.csv", speaker_column="who")
    utterances = by_id(result)
    assert sorted(utterances) == ["clips-one", "two"]
    assert utterances["clips-one"].text == "One, two, three." and utterances["clips-one"].speaker == "ann"
    assert utterances["clips-one"].audio == str((folder / "clips" / "one.wav").absolute())
    assert utterances["clips-one"].duration == pytest.approx(first, abs=1e-4)
    assert utterances["two"].duration == pytest.approx(second, abs=1e-3)
    skipped = reasons(result)
    assert skipped[str((folder / "clips" / "missing.wav").absolute())] == "file not found"
    assert skipped[str((folder / "clips" / "empty.wav").absolute())] == "file is empty"
    assert skipped[f"{folder / 'list.csv'}:6"].startswith("no audio path")

    (folder / "other.tsv").write_text("file;transcript\nclips/one.wav;One two three\n")
    custom = import_csv(folder / "other.tsv", audio_column="file", text_column="transcript", delimiter=";")
    assert [(u.id, u.text, u.speaker) for u in custom.utterances] == [("clips-one", "One two three", "")]
    with pytest.raises(CorpusError, match="no column 'text'"):
        import_csv(folder / "other.tsv", audio_column="file", delimiter=";")


def test_sphinx_layout_with_wav_subfolder(tmp_path: Path):
    duration = speak(tmp_path / "wav" / "001.wav", "ten of clubs")
    broken(tmp_path / "wav" / "003.wav", "corrupt")
    (tmp_path / "cards.fileids").write_text("001\n002\n003\n004\n")
    (tmp_path / "cards.transcription").write_text(
        "<s> ten of clubs  </s> (001)\n<s> four queen of clubs </s> (002)\n<s> seven of clubs </s> (003)\n"
        "a line without an id\n"
    )
    result = import_sphinx(tmp_path)
    (utterance,) = result.utterances
    assert (utterance.id, utterance.text) == ("001", "ten of clubs")
    assert utterance.duration == pytest.approx(duration, abs=1e-4)
    skipped = reasons(result)
    assert skipped[str((tmp_path / "002.wav").absolute())] == "file not found"
    assert skipped[str((tmp_path / "wav" / "003.wav").absolute())] == "not a recognised audio format"
    assert skipped[str((tmp_path / "004.wav").absolute())] == "no transcript for '004'"
    assert skipped[f"{tmp_path / 'cards.transcription'}:4"].startswith("expected")


@pytest.mark.skipif(
    not (POCKETSPHINX / "librivox").is_dir(), reason="Debian package pocketsphinx-testdata missing"
)
def test_sphinx_on_debian_pocketsphinx_testdata():
    librivox = import_sphinx(POCKETSPHINX / "librivox")
    assert not librivox.skipped
    assert len(librivox.utterances) == 5
    texts = by_id(librivox)
    assert texts["sense_and_sensibility_01_austen_64kb-0880"].text == "he was not an ill disposed young man"
    assert (
        texts["sense_and_sensibility_01_austen_64kb-0930"].text
        == "he might even have been made amiable himself"
    )
    assert librivox.duration == pytest.approx(24.73, abs=0.05)
    cards = import_sphinx(POCKETSPHINX / "cards")
    assert [u.id for u in cards.utterances] == ["001", "002", "003", "004", "005"]
    assert by_id(cards)["005"].text == "eight of spades four of clubs seven of hearts"
    assert librivox.duration + cards.duration == pytest.approx(34.4, abs=0.2)


def test_duplicate_ids_keep_the_first(tmp_path: Path):
    ljs = tmp_path / "lj"
    tone(ljs / "wavs" / "LJ1.wav", 0.5)
    (ljs / "metadata.csv").write_text("LJ1|first|\nLJ1|again|\n")
    result = import_ljspeech(ljs)
    assert [u.text for u in result.utterances] == ["first"]
    assert "duplicate id 'LJ1'" in result.skipped[0][1]


def test_import_corpus_checks_format_and_options(tmp_path: Path):
    with pytest.raises(CorpusError, match="unknown corpus format 'timit'"):
        import_corpus("timit", tmp_path)
    with pytest.raises(CorpusError, match="split does not apply to format 'ljspeech'"):
        import_corpus("ljspeech", tmp_path, split="dev")


def test_import_corpus_reports_progress_once_per_entry(tmp_path: Path):
    ljs = tmp_path / "lj"
    tone(ljs / "wavs" / "LJ1.wav", 0.5)
    tone(ljs / "wavs" / "LJ2.wav", 0.5)
    (ljs / "metadata.csv").write_text("LJ1|first|\nLJ1|again|\nLJ2|second|\nLJ3|no audio|\n")
    seen = []
    result = import_corpus("ljspeech", ljs, progress=lambda: seen.append(1))
    assert len(seen) == 4 == len(result.utterances) + len(result.skipped)  # added or skipped, each once
    import_corpus("ljspeech", ljs)  # no progress asked: the last run's callback is not called again
    assert len(seen) == 4
