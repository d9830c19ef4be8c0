"""Models that ship inside the package, so the toolkit works on a fresh machine with no download."""

from pathlib import Path

ASR_MODEL = Path(__file__).parent / "asr"
TTS_VOICE = (
    Path(__file__).parent / "voice"
)  # the default voice: Piper joe's (VOICE=joe pipelines/voice_default)
SLT_VOICE = Path(__file__).parent / "voice_slt"  # the second: flite slt's (VOICE=slt pipelines/voice_default)
VOICES = {
    "joe": TTS_VOICE,
    "slt": SLT_VOICE,
}  # by name (speech synthesize --voice NAME); the first is the default
VOCODER_MODEL = Path(__file__).parent / "vocoder"
