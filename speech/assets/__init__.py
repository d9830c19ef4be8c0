"""Models that ship inside the package, so the toolkit works on a fresh machine with no download."""

from pathlib import Path

ASR_MODEL = Path(__file__).parent / "asr"
# The voices by name (speech synthesize --voice NAME), made by pipelines/voice_default; the first is the default.
TTS_VOICE = Path(__file__).parent / "voice"  # Piper joe's (VOICE=joe)
SLT_VOICE = Path(__file__).parent / "voice_slt"  # flite slt's (VOICE=slt)
VOICES = {"joe": TTS_VOICE, "slt": SLT_VOICE}
VOCODER_MODEL = Path(__file__).parent / "vocoder"
