"""speech: recognition and synthesis with recurrent networks, trained on your own recordings.

The public API is the names in ``__all__``, e.g. ``speech.Recognizer.load().transcribe_file("talk.wav")``.
They are imported on first use, so ``import speech`` stays light for the command line.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "Recognizer": "speech.recognizer",  # audio -> text with word timings; CTC posteriors for inspection
    "Synthesizer": "speech.synthesizer",  # text -> speech with a trained voice
    "Vocoder": "speech.vocoder",  # log-mel frames -> waveform
    "SpeechError": "speech.errors",  # what every failure on bad input raises, with a one-line message
    "read_audio": "speech.audio",  # any audio file -> mono float32 samples at the rate asked for
    "write_audio": "speech.audio",  # samples -> WAV/FLAC, atomically
    "FeatureConfig": "speech.logmel",  # what a feature frame means (rate, window, mels)
    "FeatureExtractor": "speech.features",  # waveform -> log-mel (or MFCC) frames, as models see them
    "normalize_text": "speech.text.normalize",  # written English -> spoken words (numbers, money, abbreviations)
    "Phonemizer": "speech.text.phonemes",  # words -> ARPAbet phonemes (CMUdict, else espeak-ng)
    "import_corpus": "speech.data.importers",  # a corpus layout -> utterances, as `speech prepare` does
    "read_manifest": "speech.data.manifest",  # JSON Lines manifest -> utterances
    "write_manifest": "speech.data.manifest",  # utterances -> JSON Lines manifest
    "write_shards": "speech.data.shards",  # utterances -> WebDataset shards for training, as `speech shard` does
    "train_model": "speech.train",  # a YAML config + overrides -> a trained run folder, as `speech train` does
    "evaluate": "speech.scoring",  # WER/CER of a recognizer on labelled audio, as `speech eval` does
    "error_rates": "speech.scoring",  # WER/CER of hypotheses against references
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'speech' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
