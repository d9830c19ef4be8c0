from __future__ import annotations

import re

import pytest

from speech.errors import SpeechError
from speech.text.normalize import (
    TextError,
    normalize_text,
    number_to_words,
    ordinal_to_words,
    year_to_words,
)

CASES = {
    "cardinals": [
        ("0", "zero"),
        ("7", "seven"),
        ("42", "forty two"),
        ("100", "one hundred"),
        ("1,234", "one thousand two hundred thirty four"),
        ("1000000", "one million"),
        ("5,000 people", "five thousand people"),
        ("-5 degrees", "minus five degrees"),
        ("it was -12", "it was minus twelve"),
        ("007", "zero zero seven"),
        ("Room 101", "room one hundred one"),
        ("1,999", "one thousand nine hundred ninety nine"),
    ],
    "phone numbers": [
        ("Call 0161 496 0732 now", "call zero one six one four nine six zero seven three two now"),
        ("1-800-555-0199", "one eight zero zero five five five zero one nine nine"),
        ("07700 900123", "zero seven seven zero zero nine zero zero one two three"),
        ("(212) 555-0147", "two one two five five five zero one four seven"),
        ("212.555.0147", "two one two five five five zero one four seven"),
        ("+44 20 7946 0958", "plus four four two zero seven nine four six zero nine five eight"),
        ("from 1990-2000", "from nineteen ninety to two thousand"),  # a range, not a number to dial
        ("scored 21 14", "scored twenty one fourteen"),
        # not phone numbers: scores, lists of years, a range, a date with a leading zero, a citation
        ("won 21 14 18 22", "won twenty one fourteen eighteen twenty two"),
        ("2024 2025 2026", "twenty twenty four twenty twenty five twenty twenty six"),
        ("800-1200 calories", "eight hundred to twelve hundred calories"),
        ("06 12 2023", "zero six twelve twenty twenty three"),
        ("Nature 570 (2019)", "nature five hundred seventy twenty nineteen"),
    ],
    "ordinals": [
        ("1st", "first"),
        ("2nd", "second"),
        ("3rd", "third"),
        ("4th", "fourth"),
        ("12th", "twelfth"),
        ("21st", "twenty first"),
        ("the 100th time", "the one hundredth time"),
        ("1,000th", "one thousandth"),
    ],
    "years": [
        ("in 1999", "in nineteen ninety nine"),
        ("in 1905", "in nineteen oh five"),
        ("by 2000", "by two thousand"),
        ("in 2005", "in two thousand five"),
        ("in 2019", "in twenty nineteen"),
        ("the year 1100", "the year eleven hundred"),
        ("It was 1984.", "it was nineteen eighty four"),
        ("the 1990s", "the nineteen nineties"),
        ("the '80s", "the eighties"),
        ("1990–1995", "nineteen ninety to nineteen ninety five"),
        ("2100", "two thousand one hundred"),
        ("1099", "one thousand ninety nine"),
    ],
    "decimals": [
        ("3.14", "three point one four"),
        ("0.5", "zero point five"),
        (".5", "point five"),
        ("-3.5", "minus three point five"),
        ("2.5 million", "two point five million"),
    ],
    "money": [
        ("$5", "five dollars"),
        ("$1", "one dollar"),
        ("$5.50", "five dollars fifty cents"),
        ("$1.01", "one dollar one cent"),
        ("$0.99", "ninety nine cents"),
        ("$1,000", "one thousand dollars"),
        ("$2.5 million", "two point five million dollars"),
        ("$5m", "five million dollars"),
        ("£1", "one pound"),
        ("£3.20", "three pounds twenty pence"),
        ("£0.01", "one penny"),
        ("€10", "ten euros"),
        ("€1.01", "one euro one cent"),
        ("5€", "five euros"),
        ("I paid $5.", "i paid five dollars"),
        ("It costs $-5 today.", "it costs minus five dollars today"),
        ("$-5.50 and £-3", "minus five dollars fifty cents and minus three pounds"),
    ],
    "percentages": [
        ("50%", "fifty percent"),
        ("3.5%", "three point five percent"),
        ("100 %", "one hundred percent"),
        ("-2%", "minus two percent"),
    ],
    "times": [
        ("at 3:30", "at three thirty"),
        ("3:05 pm", "three oh five p m"),
        ("12:00", "twelve o'clock"),
        ("3:00 pm", "three p m"),
        ("8:15am", "eight fifteen a m"),
        ("at 5 p.m.", "at five p m"),
        ("5pm", "five p m"),
        ("14:45", "fourteen forty five"),
    ],
    "abbreviations": [
        ("Mr. Smith", "mister smith"),
        ("Mrs. Jones", "missus jones"),
        ("Ms. Lee", "miz lee"),
        ("Dr. Who", "doctor who"),
        ("Dr Watson", "doctor watson"),
        ("I love St. Louis", "i love saint louis"),
        ("Visit St. Louis", "visit saint louis"),
        ("on Main St.", "on main street"),
        ("We met on Main St. Then we left.", "we met on main street then we left"),
        ("on Elm Dr. today", "on elm drive today"),
        ("John Smith Jr.", "john smith junior"),
        ("Sam Smith Sr.", "sam smith senior"),
        ("Prof. Oak", "professor oak"),
        ("Mt. Everest", "mount everest"),
        ("apples, pears, etc.", "apples pears et cetera"),
        ("cats vs. dogs", "cats versus dogs"),
        ("fruit, e.g. apples", "fruit for example apples"),
        ("that one, i.e. this", "that one that is this"),
        ("No. 5", "number five"),
        ("on Jan. 5th, 2024", "on january fifth twenty twenty four"),
        ("Sept 12", "september twelfth"),
        ("in Oct 2024", "in october twenty twenty four"),
        ("Mar the view", "mar the view"),
        ("Ave Maria", "ave maria"),
        ("Apple Inc", "apple incorporated"),
        ("the St and the Dr", "the st and the dr"),
        ("#1 hit", "number one hit"),
    ],
    "acronyms": [
        ("the FBI", "the f b i"),
        ("CIA agents", "c i a agents"),
        ("NASA", "nasa"),
        ("NATO and UNESCO", "nato and unesco"),
        ("the FBI's plan", "the f b i's plan"),
        ("U.S.A.", "u s a"),
        ("the U.S. Army", "the u s army"),
        ("MP3 player", "m p three player"),
        ("HELLO THERE WORLD", "hello there world"),
        ("I am here", "i am here"),
    ],
    "dates": [
        ("Jan. 5, 2020", "january fifth twenty twenty"),
        ("on May 3rd, 1999", "on may third nineteen ninety nine"),
        ("December 25", "december twenty fifth"),
        ("5 January 2020", "the fifth of january twenty twenty"),
        ("on the 1 March", "on the first of march"),
        ("Jan 32", "january thirty two"),  # no such day: the number is left as a number
        ("in Oct 2024", "in october twenty twenty four"),
        ("March 3:30 pm", "march three thirty p m"),  # a time, not a day
    ],
    "roman numerals": [
        ("Henry VIII", "henry the eighth"),
        ("Louis XIV's court", "louis the fourteenth's court"),
        ("Pope John Paul II", "pope john paul the second"),
        ("Chapter XIV", "chapter fourteen"),
        ("World War II", "world war two"),
        ("Part III of Book I", "part three of book one"),
        ("Type I diabetes", "type one diabetes"),
        ("Apollo XI", "apollo eleven"),
        ("Then I left", "then i left"),  # the pronoun
        ("which part I liked", "which part i liked"),  # a heading word only when capitalised
        ("Malcolm X", "malcolm x"),  # a lone X after a name is a letter
        ("the IIII clock", "the i i i i clock"),  # not a numeral written the usual way
        ("the FBI and MIX", "the f b i and m i x"),  # capitals without a name or heading stay letters
    ],
    "fractions": [
        ("1/2 cup", "one half cup"),
        ("3/4 mile", "three quarters mile"),
        ("2/3 of them", "two thirds of them"),
        ("1 1/2 cups", "one and one half cups"),
        ("1/8 inch", "one eighth inch"),
        ("3/100", "three hundredths"),
        ("open 24/7", "open twenty four seven"),  # not a proper fraction
        ("9/11", "nine eleven"),  # an unusual denominator
        ("1/2/2020", "one two twenty twenty"),  # a date, not a fraction
    ],
    "units": [
        ("5 km", "five kilometers"),
        ("1 km", "one kilometer"),
        ("a 10km run", "a ten kilometers run"),
        ("2.5 kg", "two point five kilograms"),
        ("6 ft tall", "six feet tall"),
        ("60 mph", "sixty miles per hour"),
        ("100 km/h", "one hundred kilometers per hour"),
        ("16 GB", "sixteen gigabytes"),
        ("2.4 GHz", "two point four gigahertz"),
        ("250 ml", "two hundred fifty milliliters"),
        ("a 5 m wall", "a five meters wall"),
        ("30 min", "thirty minutes"),
        ("5m people", "five m people"),  # a letter unit needs a space: this m may be million
        ("-3 km", "minus three kilometers"),
    ],
    "temperatures": [
        ("-5°C", "minus five degrees celsius"),
        ("72°F", "seventy two degrees fahrenheit"),
        ("it was 1° outside", "it was one degree outside"),
        ("37.5 °C", "thirty seven point five degrees celsius"),
        ("20\u2103", "twenty degrees celsius"),  # the one-character sign
        ("a \u00b0 sign", "a sign"),  # a degree sign without a number says nothing
        ("+3°C", "plus three degrees celsius"),
    ],
    "ranges": [
        ("5-10", "five to ten"),
        ("pages 5-10", "pages five to ten"),
        ("5-10%", "five to ten percent"),
        ("5-10 km", "five to ten kilometers"),
        ("won 21-14", "won twenty one to fourteen"),
        ("5-10°C", "five to ten degrees celsius"),
        ("555-0147", "five hundred fifty five zero one four seven"),  # a leading zero: no range
        ("2020-01-05", "twenty twenty zero one zero five"),
        ("COVID-19", "covid nineteen"),
    ],
    "symbols and unicode": [
        ("salt & pepper", "salt and pepper"),
        ("AT&T", "a t and t"),
        ("“Hello,” she said", "hello she said"),
        ("it’s fine", "it's fine"),
        ("don't 'quote' me", "don't quote me"),
        ("café", "cafe"),
        ("naïve Zoë", "naive zoe"),
        ("Straße", "strasse"),
        ("well-known", "well known"),
        ("state-of-the-art", "state of the art"),
        ("example.com", "example com"),
        ("a/b", "a b"),
        ("½ cup", "one half cup"),
        ("5 ~ * ^ | 6", "five six"),
        ("😀 smile", "smile"),
        ("日本語 text", "text"),
        ("  lots   of\n\tspace  ", "lots of space"),
        ("", ""),
    ],
}

ALL_CASES = [
    pytest.param(raw, spoken, id=f"{group}: {raw!r}")
    for group, cases in CASES.items()
    for raw, spoken in cases
]


@pytest.mark.parametrize(("raw", "spoken"), ALL_CASES)
def test_normalize(raw: str, spoken: str) -> None:
    assert normalize_text(raw) == spoken


@pytest.mark.parametrize(("raw", "spoken"), ALL_CASES)
def test_output_alphabet(raw: str, spoken: str) -> None:
    """Whatever goes in, recognition targets hold only a-z, apostrophes and single spaces."""
    out = normalize_text(raw)
    assert re.fullmatch(r"(?:[a-z']+(?: [a-z']+)*)?", out), out


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("Hello, world! How are you?", "hello , world ! how are you ?"),
        ("Wait... what?!", "wait . what ?"),
        ("Yes; no: maybe", "yes , no , maybe"),
        ("He left — quickly.", "he left , quickly ."),
        (", leading comma", "leading comma"),
        ("I live on Main St.", "i live on main street ."),
        ("Meet Dr. Smith at 5 p.m.", "meet doctor smith at five p m ."),
        ("Mr. Smith arrived.", "mister smith arrived ."),
        ("apples, etc. Then pears", "apples , et cetera . then pears"),
        ("It costs $5.50.", "it costs five dollars fifty cents ."),
        ("pi is 3.14!", "pi is three point one four !"),
        ("Call 212-555-0147.", "call two one two , five five five , zero one four seven ."),
        ("It was Jan. 5, 2020. We left.", "it was january fifth , twenty twenty . we left ."),
        ("We met on 5 March. It rained.", "we met on the fifth of march . it rained ."),
        ("on 5 Jan. 2020", "on the fifth of january twenty twenty"),
        ("the U.S. Army", "the u s army"),
        ("from the U.S.", "from the u s ."),
        ("?!", ""),
    ],
)
def test_keep_punctuation(raw: str, spoken: str) -> None:
    assert normalize_text(raw, keep_punctuation=True) == spoken


def test_keep_punctuation_only_adds_marks() -> None:
    text = "Well, Dr. Jones — it's 3:30 pm! Pay $12.50 (approx.) now?"
    with_marks = normalize_text(text, keep_punctuation=True)
    assert re.fullmatch(r"[a-z' ,.?!]*", with_marks)
    assert [t for t in with_marks.split() if t not in ",.?!"] == normalize_text(text).split()


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (20, "twenty"),
        (99, "ninety nine"),
        (101, "one hundred one"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (
            123456789,
            "one hundred twenty three million four hundred fifty six thousand seven hundred eighty nine",
        ),
        (10**12, "one trillion"),
        (-7, "minus seven"),
    ],
)
def test_number_to_words(n: int, words: str) -> None:
    assert number_to_words(n) == words


def test_huge_numbers_are_read_digit_by_digit() -> None:
    assert normalize_text("12345678901234567890") == " ".join(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero"] * 2
    )


@pytest.mark.parametrize(
    ("n", "words"), [(1, "first"), (5, "fifth"), (9, "ninth"), (20, "twentieth"), (103, "one hundred third")]
)
def test_ordinal_to_words(n: int, words: str) -> None:
    assert ordinal_to_words(n) == words


@pytest.mark.parametrize(
    ("year", "words"),
    [
        (1999, "nineteen ninety nine"),
        (1900, "nineteen hundred"),
        (2009, "two thousand nine"),
        (2010, "twenty ten"),
    ],
)
def test_year_to_words(year: int, words: str) -> None:
    assert year_to_words(year) == words


def test_text_error_is_a_speech_error() -> None:
    assert issubclass(TextError, SpeechError)


@pytest.mark.parametrize(
    "garbage",
    [
        "$",
        "%",
        "$.",
        "..",
        "-",
        "--5",
        "1:",
        ":30",
        "1.2.3.4",
        "$$$5",
        "12:99",
        "\x00\x01",
        "ℕ𝔸𝕊𝔸",
        "1e10",
        "0x1F",
    ],
)
def test_garbage_does_not_crash(garbage: str) -> None:
    for keep in (False, True):
        assert re.fullmatch(r"[a-z' ,.?!]*", normalize_text(garbage, keep_punctuation=keep))


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("\x1b[31mError:\x1b[0m disk full", "error disk full"),
        ("\x1b[1;32mgreen\x1b[m light", "green light"),
        ("\x1b]0;window title\x07Hello", "hello"),
        ("\x1b]0;title\x1b\\ ok", "ok"),
        ("\x1b]unterminated keeps its words", "unterminated keeps its words"),
        ("bell\x07 and\x00 nul\r\nline", "bell and nul line"),
        ("\x9b2Jclear", "clear"),
    ],
)
def test_terminal_escapes_are_not_read_aloud(raw: str, spoken: str) -> None:
    assert normalize_text(raw) == spoken


def test_any_text_normalises_to_the_output_alphabet() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    strategies = pytest.importorskip("hypothesis.strategies")
    pieces = strategies.sampled_from(
        [
            "$",
            "-",
            "5",
            "12",
            ".",
            ",",
            "%",
            ":",
            "1999",
            "Dr.",
            "St",
            "U.S.",
            "\x1b[",
            "m",
            "\x07",
            " ",
            "\n",
        ]
    )
    text = strategies.one_of(strategies.text(), strategies.lists(pieces, max_size=12).map("".join))

    @hypothesis.given(text, strategies.booleans())
    @hypothesis.settings(max_examples=500, deadline=None)
    def check(raw: str, keep: bool) -> None:
        out = normalize_text(raw, keep_punctuation=keep)
        pattern = r"[a-z' ,.?!]*" if keep else r"(?:[a-z']+(?: [a-z']+)*)?"
        assert re.fullmatch(pattern, out), (raw, out)
        assert "  " not in out and out == out.strip()

    check()
