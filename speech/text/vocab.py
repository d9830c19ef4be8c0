"""Token inventories that map text to model ids and back.

One :class:`Vocab` holds the id logic and the JSON file format; :class:`CharVocab` (CTC recognition over
characters, blank at 0) and :class:`PhonemeVocab` (TTS input over ARPAbet, padding at 0) only say what a token
is and how a sequence of them reads back. A model saves its vocab beside its weights, so the ids it was trained
with travel with it.
"""

from __future__ import annotations

import json
import os
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from speech.audio import atomic_output
from speech.text.normalize import PAUSE_MARKS, TextError

BLANK = "<blank>"
PAD = "<pad>"
WORD_BOUNDARY = "|"

ARPABET_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
# fmt: off
ARPABET_CONSONANTS = (
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N",
    "NG", "P", "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH",
)
# fmt: on
STRESSES = ("0", "1", "2")
# every token the phonemiser may emit for a sound: vowels always carry a stress digit
PHONEMES = tuple(v + s for v in ARPABET_VOWELS for s in STRESSES) + ARPABET_CONSONANTS

_FORMAT_VERSION = 1
V = TypeVar("V", bound="Vocab")


class Vocab:
    """An ordered, duplicate-free list of tokens; a token's id is its position."""

    kind: ClassVar[str] = "generic"

    def __init__(self, tokens: Sequence[str]):
        tokens = tuple(tokens)
        if not tokens:
            raise TextError("a vocabulary needs at least one token")
        if not all(isinstance(t, str) and t for t in tokens):
            raise TextError("vocabulary tokens must be non-empty strings")
        duplicates = sorted(t for t, count in Counter(tokens).items() if count > 1)
        if duplicates:
            raise TextError(f"vocabulary has duplicate tokens: {', '.join(map(repr, duplicates))}")
        self._tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}

    @property
    def tokens(self) -> tuple[str, ...]:
        return self._tokens

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.tokens == self.tokens  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._tokens))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} tokens)"

    def _describe(self, token: str) -> str:
        return f"token {token!r}"

    def encode_tokens(self, tokens: Iterable[str]) -> list[int]:
        """Ids for tokens; an unknown token is named in the error so the offending input can be found."""
        ids = []
        for token in tokens:
            index = self._ids.get(token)
            if index is None:
                raise TextError(f"{self._describe(token)} is not in the {self.kind} vocabulary")
            ids.append(index)
        return ids

    def decode_tokens(self, ids: Iterable[int]) -> list[str]:
        tokens = []
        for index in ids:
            index = int(index)
            if not 0 <= index < len(self._tokens):
                raise TextError(f"id {index} is outside the {self.kind} vocabulary (0..{len(self) - 1})")
            tokens.append(self._tokens[index])
        return tokens

    def save(self, path: str | os.PathLike) -> None:
        """JSON with the kind, so loading a phoneme vocab where a character one is expected fails loudly."""
        document = {"format": _FORMAT_VERSION, "kind": self.kind, "tokens": list(self._tokens)}
        with atomic_output(path) as stream:
            stream.write((json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))

    @classmethod
    def load(cls: type[V], path: str | os.PathLike) -> V:
        document = _read_json(Path(path))
        kind = document.get("kind")
        vocab_class = _KINDS.get(kind) if isinstance(kind, str) else None
        tokens = document.get("tokens")
        if vocab_class is None or not isinstance(tokens, list):
            raise TextError(f"{path}: not a vocabulary file (needs 'kind' and a 'tokens' list)")
        if not issubclass(vocab_class, cls):
            raise TextError(f"{path}: holds a {kind} vocabulary, expected {cls.kind}")
        try:
            return vocab_class(tokens)
        except TextError as error:
            raise TextError(f"{path}: {error}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TextError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TextError(f"{path}: cannot read vocabulary ({error})") from None
    if not isinstance(document, dict):
        raise TextError(f"{path}: not a vocabulary file")
    return document


class CharVocab(Vocab):
    """Characters for CTC recognition: the blank at id 0, then one token per character."""

    kind = "char"

    def __init__(self, tokens: Sequence[str]):
        super().__init__(tokens)
        if self.tokens[0] != BLANK:
            raise TextError(f"a character vocabulary must start with the CTC blank {BLANK!r}")
        long = [t for t in self.tokens[1:] if len(t) != 1]
        if long:
            raise TextError(f"character vocabulary tokens must be single characters, got {long[0]!r}")

    @classmethod
    def english(cls) -> CharVocab:
        """Blank, space, apostrophe, a-z: exactly what :func:`normalize_text` produces."""
        return cls([BLANK, " ", "'", *string.ascii_lowercase])

    @property
    def blank(self) -> int:
        return 0

    def _describe(self, token: str) -> str:
        return f"character {token!r} (U+{ord(token):04X})" if len(token) == 1 else f"token {token!r}"

    def encode(self, text: str) -> list[int]:
        """Ids of normalised text; anything else (capitals, digits, punctuation) is an error, not dropped."""
        try:
            return self.encode_tokens(text)
        except TextError as error:
            raise TextError(f"{error}; normalise the text first (speech.text.normalize_text)") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text for ids, blanks skipped (the inverse of :meth:`encode`)."""
        return "".join(t for t in self.decode_tokens(ids) if t != BLANK)


class PhonemeVocab(Vocab):
    """ARPAbet phonemes (stress digits on vowels) for TTS: padding at id 0, word boundary and pause marks."""

    kind = "phoneme"

    def __init__(self, tokens: Sequence[str]):
        super().__init__(tokens)
        if self.tokens[0] != PAD:
            raise TextError(f"a phoneme vocabulary must start with the padding token {PAD!r}")

    @classmethod
    def english(cls) -> PhonemeVocab:
        """Padding, the 39 ARPAbet phonemes (vowels x 3 stresses), the word boundary, then , . ? !"""
        return cls([PAD, *PHONEMES, WORD_BOUNDARY, *PAUSE_MARKS])

    @property
    def pad(self) -> int:
        return 0

    def _describe(self, token: str) -> str:
        return f"phoneme {token!r}"

    def encode(self, phonemes: Iterable[str]) -> list[int]:
        """Ids of a :class:`~speech.text.phonemes.Phonemizer` output."""
        return self.encode_tokens(phonemes)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Phonemes for ids, padding skipped."""
        return [t for t in self.decode_tokens(ids) if t != PAD]


class AlignerVocab(Vocab):
    """Phonemes for CTC forced alignment (the phoneme aligner): the blank at id 0, then the phonemes."""

    kind = "aligner"

    def __init__(self, tokens: Sequence[str]):
        super().__init__(tokens)
        if self.tokens[0] != BLANK:
            raise TextError(f"an aligner vocabulary must start with the CTC blank {BLANK!r}")

    @classmethod
    def english(cls) -> AlignerVocab:
        return cls([BLANK, *PHONEMES])

    @property
    def blank(self) -> int:
        return 0

    def _describe(self, token: str) -> str:
        return f"phoneme {token!r}"


_KINDS: dict[str, type[Vocab]] = {"char": CharVocab, "phoneme": PhonemeVocab, "aligner": AlignerVocab}
