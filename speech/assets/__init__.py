"""Models that ship inside the package, so the toolkit works on a fresh machine with no download."""

from pathlib import Path

ASR_MODEL = Path(__file__).parent / "asr"
TTS_VOICE = Path(__file__).parent / "voice"  # the default voice (pipelines/voice_default)
VOICES = {
    "slt": TTS_VOICE
}  # the shipped voices by name (speech synthesize --voice NAME); the first is the default
VOCODER_MODEL = Path(__file__).parent / "vocoder"
