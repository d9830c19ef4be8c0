"""speech: recognition and synthesis with recurrent networks, trained on your own recordings."""

__version__ = "0.1.0"


def __getattr__(name: str):  # speech.Vocoder, imported on first use: `import speech` stays light for the CLI
    if name == "Vocoder":
        from speech.vocoder import Vocoder

        return Vocoder
    if name == "Synthesizer":
        from speech.synthesizer import Synthesizer

        return Synthesizer
    raise AttributeError(f"module 'speech' has no attribute {name!r}")
