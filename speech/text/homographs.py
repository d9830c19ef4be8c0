"""Words spelt alike and said two ways (a REcord, to reCORD; I read, I have read), read by a cheap rule on the
word before them, since the phonemiser otherwise takes one dictionary pronunciation for every use.

The rule looks at the previous word only: after "to", a modal or a pronoun the word is a verb; after
a determiner, a possessive or a preposition it is a noun (or adjective); otherwise it takes the reading that
is the more common in running text (measured by eye on this project's sentences, not by a tagger). "read"
is said "red" after a form of have or be (the past participle) and "reed" elsewhere. A real part-of-speech
tagger would do better on sentences such as "the old man the boats"; none installs offline in a few MB.
"""

from __future__ import annotations

# word -> (noun or adjective reading, verb reading, which when the context says nothing)
HOMOGRAPHS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "record": (("R", "EH1", "K", "ER0", "D"), ("R", "IH0", "K", "AO1", "R", "D"), "noun"),
    "records": (("R", "EH1", "K", "ER0", "D", "Z"), ("R", "IH0", "K", "AO1", "R", "D", "Z"), "noun"),
    "present": (("P", "R", "EH1", "Z", "AH0", "N", "T"), ("P", "R", "IY0", "Z", "EH1", "N", "T"), "noun"),
    "object": (("AA1", "B", "JH", "EH0", "K", "T"), ("AH0", "B", "JH", "EH1", "K", "T"), "noun"),
    "project": (("P", "R", "AA1", "JH", "EH0", "K", "T"), ("P", "R", "AH0", "JH", "EH1", "K", "T"), "noun"),
    "permit": (("P", "ER1", "M", "IH2", "T"), ("P", "ER0", "M", "IH1", "T"), "noun"),
    "desert": (("D", "EH1", "Z", "ER0", "T"), ("D", "IH0", "Z", "ER1", "T"), "noun"),
    "produce": (("P", "R", "OW1", "D", "UW0", "S"), ("P", "R", "AH0", "D", "UW1", "S"), "verb"),
    "conduct": (("K", "AA1", "N", "D", "AH0", "K", "T"), ("K", "AH0", "N", "D", "AH1", "K", "T"), "noun"),
    "contract": (
        ("K", "AA1", "N", "T", "R", "AE2", "K", "T"),
        ("K", "AH0", "N", "T", "R", "AE1", "K", "T"),
        "noun",
    ),
    "increase": (("IH1", "N", "K", "R", "IY2", "S"), ("IH2", "N", "K", "R", "IY1", "S"), "verb"),
    "conflict": (
        ("K", "AA1", "N", "F", "L", "IH0", "K", "T"),
        ("K", "AH0", "N", "F", "L", "IH1", "K", "T"),
        "noun",
    ),
    "import": (("IH1", "M", "P", "AO2", "R", "T"), ("IH2", "M", "P", "AO1", "R", "T"), "noun"),
    "refuse": (("R", "EH1", "F", "Y", "UW2", "S"), ("R", "IH0", "F", "Y", "UW1", "Z"), "verb"),
    "use": (("Y", "UW1", "S"), ("Y", "UW1", "Z"), "verb"),
    "live": (("L", "AY1", "V"), ("L", "IH1", "V"), "verb"),
    "wind": (("W", "IH1", "N", "D"), ("W", "AY1", "N", "D"), "noun"),
}
PAST_READ, PRESENT_READ = ("R", "EH1", "D"), ("R", "IY1", "D")

VERB_BEFORE = frozenset(
    [
        "to",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "you",
        "we",
        "they",
        "he",
        "she",
        "it",
        "us",
        "them",
        "me",
        "him",
        "please",
        "not",
        "never",
        "always",
        "often",
        "also",
        "usually",
        "cannot",
        "didn't",
        "don't",
        "doesn't",
        "won't",
    ]
)
NOUN_BEFORE = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "no",
        "every",
        "each",
        "any",
        "some",
        "of",
        "for",
        "in",
        "on",
        "at",
        "with",
        "from",
        "by",
        "about",
        "new",
        "old",
        "good",
        "great",
        "big",
        "small",
        "first",
        "last",
        "whole",
    ]
)
HAVE_OR_BE = frozenset(
    [
        "have",
        "has",
        "had",
        "having",
        "was",
        "were",
        "been",
        "is",
        "are",
        "be",
        "being",
        "i've",
        "we've",
        "you've",
        "they've",
    ]
)


def homograph_reading(word: str, previous: str | None) -> tuple[str, ...] | None:
    """The ARPAbet reading of ``word`` (normalised, lower case) after the word ``previous`` (None at the
    start of a sentence), or None when ``word`` is not a homograph this module reads."""
    if word == "read":
        return PAST_READ if previous in HAVE_OR_BE else PRESENT_READ
    if word not in HOMOGRAPHS:
        return None
    noun, verb, usual = HOMOGRAPHS[word]
    if previous in VERB_BEFORE:
        return verb
    if previous in NOUN_BEFORE:
        return noun
    return noun if usual == "noun" else verb
