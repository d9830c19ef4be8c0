"""Text front end: normalisation to spoken words, token vocabularies, and ARPAbet phonemisation."""

from __future__ import annotations

from speech.text.normalize import (
    PAUSE_MARKS,
    TextError,
    digits_to_words,
    normalize_text,
    number_to_words,
    ordinal_to_words,
    year_to_words,
)
from speech.text.phonemes import Phonemizer, PhonemizerError, ipa_to_arpabet
from speech.text.vocab import BLANK, PAD, PHONEMES, WORD_BOUNDARY, CharVocab, PhonemeVocab, Vocab

__all__ = [
    "BLANK",
    "PAD",
    "PAUSE_MARKS",
    "PHONEMES",
    "WORD_BOUNDARY",
    "CharVocab",
    "PhonemeVocab",
    "Phonemizer",
    "PhonemizerError",
    "TextError",
    "Vocab",
    "digits_to_words",
    "ipa_to_arpabet",
    "normalize_text",
    "number_to_words",
    "ordinal_to_words",
    "year_to_words",
]
