"""English text normalisation: raw text in, the spoken words out.

Recognition targets and synthesis input must agree on one spelling of what is *said*, so "$5.50" becomes
"five dollars fifty cents" before it reaches either model. The result holds only lower-case a-z, apostrophes
and single spaces; with ``keep_punctuation=True`` the pause marks ``, . ? !`` stay as separate tokens so the
TTS front end can hear the sentence structure.

Each rewrite is one small regex pass; the passes run in a fixed order (money before plain numbers, numbers
before acronyms, acronyms before lower-casing) and each later pass only sees what the earlier ones left.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from speech.errors import SpeechError

PAUSE_MARKS = (",", ".", "?", "!")


class TextError(SpeechError):
    """Text the front end cannot use as given, e.g. a character outside the model's vocabulary."""


# --------------------------------------------------------------------------------------------------------------
# Numbers to words

# fmt: off
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# fmt: on
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion")
_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_MAX_WORDED = 10 ** (3 * len(_SCALES))  # beyond this a number is read digit by digit


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def number_to_words(n: int) -> str:
    """Cardinal in words, American style without "and": 1234 -> "one thousand two hundred thirty four"."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= _MAX_WORDED:
        return digits_to_words(str(n))
    if n == 0:
        return "zero"
    words: list[str] = []
    for power in range(len(_SCALES) - 1, -1, -1):
        group = (n // 1000**power) % 1000
        if group:
            words += _below_thousand(group)
            if _SCALES[power]:
                words.append(_SCALES[power])
    return " ".join(words)


def ordinal_to_words(n: int) -> str:
    """21 -> "twenty first": only the last word of the cardinal changes."""
    *head, last = number_to_words(n).split()
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def year_to_words(year: int) -> str:
    """Years are read in pairs of digits: 1999 -> "nineteen ninety nine", 1905 -> "nineteen oh five"."""
    if 2000 <= year <= 2009:
        return number_to_words(year)
    century, rest = divmod(year, 100)
    if rest == 0:
        return f"{number_to_words(century)} hundred"
    if rest < 10:
        return f"{number_to_words(century)} oh {_ONES[rest]}"
    return f"{number_to_words(century)} {number_to_words(rest)}"


def digits_to_words(digits: str) -> str:
    """Digit by digit, for decimals, leading zeros and numbers too long to say as one."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def _integer_words(digits: str) -> str:
    """A digit string (commas allowed) as a cardinal; "007" keeps its zeros by being read digit by digit."""
    digits = digits.replace(",", "")
    if len(digits) > 1 and digits.startswith("0"):
        return digits_to_words(digits)
    return number_to_words(int(digits))


def _decimal_words(integer: str | None, fraction: str | None) -> str:
    words = _integer_words(integer) if integer else ""
    if fraction:
        words = f"{words} point {digits_to_words(fraction)}".strip()
    return words


def _pluralize(words: str) -> str:
    """The 1990s -> "nineteen nineties": only the last word takes the plural."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


# --------------------------------------------------------------------------------------------------------------
# Unicode clean-up

_CHARACTER_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2212": "-",
        "\u2014": " , ",
        "\u2015": " , ",
        "\u2026": "...",
        "\u00a0": " ",
        "\u00df": "ss",
        "\u00e6": "ae",
        "\u00c6": "AE",
        "\u0153": "oe",
        "\u0152": "OE",
        "\u00f8": "o",
        "\u00d8": "O",
        "\u0142": "l",
        "\u0141": "L",
        "\u0111": "d",
        "\u0110": "D",
        "\u00f0": "d",
        "\u00d0": "D",
        "\u00fe": "th",
        "\u00de": "Th",
        "\u0131": "i",
        "\u00bd": " one half ",
        "\u00bc": " one quarter ",
        "\u00be": " three quarters ",
        "\u2044": " over ",
    }
)


# Terminal escape sequences (colours, cursor moves, window titles) in pasted logs: a CSI sequence
# (ESC [ ... final byte, or its one-character form U+009B), an OSC string (ESC ] ... BEL or ESC \) or a
# two-character escape; read aloud, their digits became words ("thirty one m"). An OSC string without its
# end loses only its ESC ], never the text after it.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what is left: other control characters


def _drop_control_sequences(text: str) -> str:
    """Terminal escape sequences and control characters are not text to say; they become spaces."""
    return _CONTROL.sub(" ", _ESCAPE_SEQUENCE.sub(" ", text))


def _fold_unicode(text: str) -> str:
    """Typographic quotes and dashes to ASCII, accents dropped (café -> cafe); other symbols stay for later."""
    text = text.translate(_CHARACTER_MAP)
    text = re.sub(r"(?<=\d)\s*\u2013\s*(?=\d)", " to ", text)  # en dash in a range: 1990–1995
    text = text.replace("\u2013", " , ")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# --------------------------------------------------------------------------------------------------------------
# Abbreviations


def _followed_by_name(text: str, end: int) -> bool:
    return re.match(r"\s+[A-Z]", text[end:]) is not None


def _preceded_by_name(text: str, start: int) -> bool:
    """A capitalised word before ``start`` that is not just capitalised for starting the sentence."""
    match = re.search(r"(?:^|([.!?]\s+)|\s)([A-Z][\w']*)\s+$", text[:start])
    if match is None:
        return False
    sentence_initial = match.start(2) == 0 or match.group(1) is not None
    return not sentence_initial


def _ends_sentence(text: str, end: int) -> bool:
    """An abbreviation's period doubles as the full stop at the end of the text or before a new sentence."""
    rest = text[end:]
    return rest.strip() == "" or re.match(r"\s+[A-Z]", rest) is not None


_TITLES = {
    "Mr": "mister",
    "Mrs": "missus",
    "Ms": "miz",
    "Prof": "professor",
    "Mt": "mount",
    "Capt": "captain",
}
_SUFFIXES = {
    "Jr": "junior",
    "Sr": "senior",
    "etc": "et cetera",
    "Inc": "incorporated",
    "Ltd": "limited",
    "Ave": "avenue",
    "approx": "approximately",
}
_MONTHS = {
    "Jan": "january",
    "Feb": "february",
    "Mar": "march",
    "Apr": "april",
    "Jun": "june",
    "Jul": "july",
    "Aug": "august",
    "Sep": "september",
    "Sept": "september",
    "Oct": "october",
    "Nov": "november",
    "Dec": "december",
}
# Only "Jan. 5" or "Oct 2024": a month abbreviation is a month when a day or year follows it.
_MONTH = re.compile(r"(?<![\w.])(" + "|".join(_MONTHS) + r")\.?\s+(?=\d)")
# (title reading before a name, place reading after one, reading when neither tells)
_AMBIGUOUS = {"St": ("saint", "street", "street"), "Dr": ("doctor", "drive", "doctor")}

_ABBREVIATION = re.compile(
    r"(?<![\w.])(?P<word>" + "|".join([*_TITLES, *_SUFFIXES, *_AMBIGUOUS]) + r")(?P<dot>\.)?(?![\w'])"
)


def is_abbreviation(word: str) -> bool:
    """Whether a period after ``word`` may belong to it rather than end a sentence: the abbreviations
    read here (Dr., Mr., Ave., Jan., etc.) and initials (J. R. R. Tolkien)."""
    return (
        (len(word) == 1 and word.isalpha())
        or word in _TITLES
        or word in _SUFFIXES
        or word in _AMBIGUOUS
        or (word in _MONTHS)
    )


def _expand_abbreviation(match: re.Match[str]) -> str:
    text, word, dot = match.string, match.group("word"), match.group("dot")
    start, end = match.span()
    if word in _TITLES:
        return _TITLES[word] if dot or _followed_by_name(text, end) else match.group(0)
    if word in _SUFFIXES:
        if not dot and _followed_by_name(text, end):
            return match.group(0)  # "Ave Maria" is no avenue
        expansion = _SUFFIXES[word]
        return expansion + " ." if dot and _ends_sentence(text, end) else expansion
    title, place, default = _AMBIGUOUS[word]
    if not dot and not _followed_by_name(text, end) and not _preceded_by_name(text, start):
        return match.group(0)  # a bare "St"/"Dr" with no name around it is some other word
    if _preceded_by_name(text, start):
        return place + " ." if dot and _ends_sentence(text, end) else place
    if _followed_by_name(text, end):
        return title
    return default + (" ." if dot and default == place and _ends_sentence(text, end) else "")


def _expand_abbreviations(text: str) -> str:
    text = re.sub(r"(?<![\w.])[Ee]\.\s?[Gg]\.?(?!\w)", "for example", text)
    text = re.sub(r"(?<![\w.])[Ii]\.\s?[Ee]\.?(?!\w)", "that is", text)
    text = re.sub(r"(?<![\w.])[Vv][Ss]\.?(?=\s)", "versus", text)
    text = re.sub(r"(?<![\w.])[Nn]o\.\s*(?=\d)", "number ", text)
    text = re.sub(r"#\s*(?=\d)", "number ", text)
    text = _MONTH.sub(lambda match: _MONTHS[match.group(1)] + " ", text)
    return _ABBREVIATION.sub(_expand_abbreviation, text)


# --------------------------------------------------------------------------------------------------------------
# Numbers in context

_INTEGER = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", None, None),
}
_SCALE_WORDS = {"k": "thousand", "m": "million", "mn": "million", "bn": "billion", "b": "billion"}
_SCALE = r"(?:\s?(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>k|mn|m|bn|b)\b)"
_AMOUNT = rf"(?P<int>{_INTEGER})?(?:\.(?P<frac>\d+))?"
_MONEY_BEFORE = re.compile(rf"(?P<cur>[$£€¥])\s?{_AMOUNT}{_SCALE}?", re.IGNORECASE)
_MONEY_AFTER = re.compile(rf"(?<![\w.,]){_AMOUNT}\s?(?P<cur>[$£€¥])")


# Telephone numbers: digit groups joined by one kind of separator (space, hyphen or dot), optionally after
# +country and an (area) code of three digits or a leading 0; never straight after a currency sign.
_PHONE = re.compile(
    r"(?<![\w.,+\-$£€¥])(?:\+(?P<country>\d{1,3})[ .-]?)?(?:\((?P<area>\d{3}|0\d{0,4})\)[ .-]?)?"
    r"(?P<groups>\d{1,6}(?P<sep>[ .-])\d{2,6}(?:(?P=sep)\d{2,6})*)(?![\w%]|[.,-]\d)"
)
_DIALLED = re.compile(r"(?:1[ .-])?\d{3}(?P<sep>[ .-])\d{3}(?P=sep)\d{4}")  # (1-)212-555-0147


def _phone_words(match: re.Match[str]) -> str:
    """Digit groups read digit by digit, a pause between groups, when they can only be a phone number: a
    +country or (area) part, the North American 212-555-0147 shape, or at least seven digits whose first
    group starts with 0 (0161 496 0732) and that are not a date (06 12 2023). Ranges (1990-2000, 800-1200),
    scores, lists and space-grouped thousands are left to the number passes."""
    groups = re.split(r"[ .-]", match["groups"])
    if not (match["country"] or match["area"] or _DIALLED.fullmatch(match["groups"])):
        lengths = sorted(len(group) for group in groups)
        date = len(groups) == 3 and lengths[:2] <= [2, 2] and lengths[-1] == 4
        trunk = groups[0].startswith("0") and sum(lengths) >= 7
        if not trunk or date:
            return match.group(0)
    spoken = [digits_to_words(part) for part in (match["country"], match["area"], *groups) if part]
    return (" plus " if match["country"] else " ") + " , ".join(spoken) + " "


def _expand_phone_numbers(text: str) -> str:
    return _PHONE.sub(_phone_words, text)


def _money_words(match: re.Match[str]) -> str:
    integer, fraction = match.group("int"), match.group("frac")
    if not integer and not fraction:
        return match.group(0)
    one, many, sub_one, sub_many = _CURRENCIES[match.group("cur")]
    groups = match.groupdict()
    scale = groups.get("scale") or _SCALE_WORDS.get((groups.get("abbr") or "").lower())
    if scale:
        return f" {_decimal_words(integer, fraction)} {scale.lower()} {many} "
    units = int(integer.replace(",", "")) if integer else 0
    if fraction and (len(fraction) > 2 or sub_one is None):
        return f" {_decimal_words(integer, fraction)} {many} "
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if units or not cents:
        parts.append(f"{_integer_words(integer or '0')} {one if units == 1 else many}")
    if cents:
        parts.append(f"{number_to_words(cents)} {sub_one if cents == 1 else sub_many}")
    return " " + " ".join(parts) + " "


def _expand_money(text: str) -> str:
    text = re.sub(r"([$£€¥])\s?-(?=\.?\d)", r"-\1", text)  # $-5 is -$5: the sign goes first
    text = re.sub(r"(?<![\w.])-(?=[$£€¥]?\.?\d)", " minus ", text)  # the sign first: -$5, -3.5%
    text = _MONEY_BEFORE.sub(_money_words, text)
    return _MONEY_AFTER.sub(_money_words, text)


def _expand_percentages(text: str) -> str:
    pattern = rf"(?P<int>{_INTEGER})?(?:\.(?P<frac>\d+))?\s?%"
    return re.sub(
        pattern,
        lambda m: f" {_decimal_words(m['int'], m['frac'])} percent " if m["int"] or m["frac"] else " ",
        text,
    )


# a.m./p.m.; the final dot is eaten unless it also ends the sentence
_MERIDIEM = r"(?:\s?(?P<ampm>[ap])\.?\s?m\b(?:\.(?!\s+[A-Z]|\s*$))?)"


def _time_words(match: re.Match[str]) -> str:
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    ampm = match["ampm"]
    words = [number_to_words(hour)]
    if minute == 0 and not ampm and match["minute"]:
        words.append("o'clock")
    elif 0 < minute < 10:
        words += ["oh", _ONES[minute]]
    elif minute:
        words.append(number_to_words(minute))
    if ampm:
        words += [ampm.lower(), "m"]
    return " " + " ".join(words) + " "


def _expand_times(text: str) -> str:
    """3:30 -> "three thirty", 3:05 pm -> "three oh five p m", 12:00 -> "twelve o'clock", 5pm -> "five p m"."""
    clock = rf"(?<![\d:])(?P<hour>[01]?\d|2[0-4]):(?P<minute>[0-5]\d)(?![\d:]){_MERIDIEM}?"
    text = re.sub(clock, _time_words, text, flags=re.IGNORECASE)
    bare = rf"(?<![\w:.,])(?P<hour>1[0-2]|0?[1-9])(?P<minute>){_MERIDIEM}(?!\w)"
    return re.sub(bare, _time_words, text, flags=re.IGNORECASE)


def _expand_ordinals(text: str) -> str:
    pattern = rf"(?<![\w.])(?P<n>{_INTEGER})(?:st|nd|rd|th)\b"
    return re.sub(
        pattern, lambda m: ordinal_to_words(int(m["n"].replace(",", ""))), text, flags=re.IGNORECASE
    )


def _expand_decades(text: str) -> str:
    """The 1990s / '80s / 80s."""
    text = re.sub(r"(?<![\w.,])(1[1-9]\d0|20\d0)'?s\b", lambda m: _pluralize(year_to_words(int(m[1]))), text)
    return re.sub(r"(?<![\w.,])'?([2-9]0)'?s\b", lambda m: _pluralize(number_to_words(int(m[1]))), text)


def _year_words(match: re.Match[str]) -> str:
    """Only a bare four-digit number in 1100-2099 is read as a year; "-1999" is a negative number."""
    if match.string[: match.start()].endswith("minus "):
        return match.group(0)
    return year_to_words(int(match.group(0)))


def _expand_years(text: str) -> str:
    return re.sub(r"(?<![\w.,])(?:1[1-9]\d\d|20\d\d)(?![\w%]|[.,]\d)", _year_words, text)


def _expand_numbers(text: str) -> str:
    """Whatever digits the context passes left: signs, decimals, then plain (comma-grouped) integers."""
    text = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)
    text = re.sub(
        rf"(?P<int>{_INTEGER})?\.(?P<frac>\d+)",
        lambda m: f" {_decimal_words(m['int'], m['frac'])} ",
        text,
    )
    return re.sub(_INTEGER, lambda m: f" {_integer_words(m.group(0))} ", text)


# --------------------------------------------------------------------------------------------------------------
# Dates, Roman numerals, fractions, ranges, temperatures and units: what a number means by what stands beside it

_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_ANY_MONTH = "|".join([*_MONTH_NAMES, *_MONTHS])
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_MONTH_DAY = re.compile(rf"(?<![\w.])(?P<month>{_ANY_MONTH})\.?\s+{_DAY}(?![\w:%]|[.,]\d)")
_DAY_MONTH = re.compile(rf"(?<![\w.,:$£€¥-]){_DAY}\s+(?P<month>{_ANY_MONTH})\b(?:\.(?=\s*\d))?")


def _month_word(month: str) -> str:
    return _MONTHS.get(month, month).lower()


def _expand_dates(text: str) -> str:
    """A day beside a month is an ordinal: "Jan. 5, 2020" -> "january fifth, 2020" (the year is read later),
    "5 January" -> "the fifth of january". Not a day (0, 32) and the text is left alone."""

    def month_day(match: re.Match[str]) -> str:
        day = int(match["day"])
        return f"{_month_word(match['month'])} {ordinal_to_words(day)}" if 1 <= day <= 31 else match[0]

    def day_month(match: re.Match[str]) -> str:
        day = int(match["day"])
        if not 1 <= day <= 31:
            return match[0]
        the = "" if re.search(r"\bthe\s+$", match.string[: match.start()], re.IGNORECASE) else "the "
        return f"{the}{ordinal_to_words(day)} of {_month_word(match['month'])} "

    return _DAY_MONTH.sub(day_month, _MONTH_DAY.sub(month_day, text))


_ROMAN_VALUES = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)  # fmt: skip


def roman_to_int(numeral: str) -> int | None:
    """The value of a Roman numeral written the usual way (XIV, MCMXCIX), or None ("IIII", "VX", "IC")."""
    value, rest = 0, numeral
    for amount, letters in _ROMAN_VALUES:
        repeats = 0
        while rest.startswith(letters) and repeats < (3 if len(letters) == 1 else 1):
            value, rest, repeats = value + amount, rest[len(letters) :], repeats + 1
    return value if numeral and not rest and _to_roman(value) == numeral else None


def _to_roman(value: int) -> str:
    letters = []
    for amount, symbol in _ROMAN_VALUES:
        count, value = divmod(value, amount)
        letters.append(symbol * count)
    return "".join(letters)


# Headings a number follows, read as a cardinal ("Chapter XIV" -> "chapter fourteen", "World War II").
_NUMBERED = (
    "Chapter", "Part", "Volume", "Vol", "Book", "Act", "Scene", "Section", "Article", "Episode", "Season",
    "Phase", "Appendix", "Psalm", "Canto", "Stage", "Level", "Round", "War", "Type", "Class", "Title",
    "Apollo", "Gemini",
)  # fmt: skip
_TITLE_NUMERAL = re.compile(
    r"\b(?P<title>" + "|".join(_NUMBERED) + r")(?P<dot>\.?)\s+(?P<roman>[IVXLCDM]+)\b"
)
# A regnal number after a name ("Henry VIII", "Pope John Paul II"): I, V and X only, up to 39, and never a
# lone I or X, which are far more often the pronoun or a letter ("Malcolm X").
_NAME_NUMERAL = re.compile(
    r"\b(?P<name>[A-Z][a-z]+)\s+(?P<roman>X{0,3}(?:IX|IV|VI{0,3}|I{2,3})|X{1,3}I|X{2,3})\b"
)


def _expand_roman_numerals(text: str) -> str:
    def titled(match: re.Match[str]) -> str:
        value = roman_to_int(match["roman"])
        if value is None:
            return match[0]
        return f"{match['title']}{match['dot']} {number_to_words(value)}"

    def regnal(match: re.Match[str]) -> str:
        value = roman_to_int(match["roman"])
        if value is None or match["name"] in _NUMBERED:
            return match[0]
        return f"{match['name']} the {ordinal_to_words(value)}"

    return _NAME_NUMERAL.sub(regnal, _TITLE_NUMERAL.sub(titled, text))


_FRACTION = re.compile(
    r"(?<![\w/.,])(?:(?P<whole>\d+)\s+)?(?P<numerator>\d+)/(?P<denominator>\d+)(?![\w/]|[.,]\d)"
)
_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
_COMMON_DENOMINATORS = {*range(2, 11), 12, 16, 20, 32, 64, 100}  # beyond them, 9/11 or 24/7 is no fraction


def _fraction_words(match: re.Match[str]) -> str:
    """Proper fractions with a usual denominator: "1/2" -> "one half", "3/4" -> "three quarters", "2/3" ->
    "two thirds", "1 1/2" -> "one and one half"; "24/7", "9/11", "50/50" and dates keep their numbers."""
    numerator, denominator = int(match["numerator"]), int(match["denominator"])
    if not 0 < numerator < denominator or denominator not in _COMMON_DENOMINATORS:
        return match[0]
    if denominator in _DENOMINATORS:
        one, many = _DENOMINATORS[denominator]
    else:
        one = ordinal_to_words(denominator).removeprefix("one ")  # "hundredth", not "one hundredth"
        many = one + "s"
    words = f"{number_to_words(numerator)} {one if numerator == 1 else many}"
    if match["whole"]:
        words = f"{_integer_words(match['whole'])} and {words}"
    return f" {words} "


def _expand_fractions(text: str) -> str:
    return _FRACTION.sub(_fraction_words, text)


_RANGE = re.compile(r"(?<![\w.,/-])(?P<low>\d+(?:\.\d+)?)-(?P<high>\d+(?:\.\d+)?)(?![\d/-]|[.,]\d)")


def _expand_ranges(text: str) -> str:
    """A hyphen between two numbers is "to": "5-10" -> "5 to 10", "1990-2000", a score "21-14". A number with
    a leading zero after it (555-0147, 2020-01) is no range: phone numbers and dates keep their digits."""

    def to(match: re.Match[str]) -> str:
        leading_zero = any(len(part) > 1 and part.startswith("0") for part in (match["low"], match["high"]))
        return match[0] if leading_zero else f"{match['low']} to {match['high']}"

    return _RANGE.sub(to, text)


_TEMPERATURE = re.compile(
    r"(?<![\w.])(?P<sign>[-+])?(?P<number>\d+(?:\.\d+)?)\s?°\s?(?P<scale>[CFK](?![A-Za-z]))?"
)
_TEMPERATURE_SCALES = {"C": "celsius", "F": "fahrenheit", "K": "kelvin"}


def _expand_temperatures(text: str) -> str:
    """-5°C -> "minus five degrees celsius", 1° -> "one degree"; a degree sign alone is dropped later."""

    def degrees(match: re.Match[str]) -> str:
        integer, _, fraction = match["number"].partition(".")
        words = _decimal_words(integer, fraction or None)
        unit = "degree" if match["number"] == "1" else "degrees"
        sign = {"-": "minus ", "+": "plus ", None: ""}[match["sign"]]
        scale = f" {_TEMPERATURE_SCALES[match['scale']]}" if match["scale"] else ""
        return f" {sign}{words} {unit}{scale} "

    return _TEMPERATURE.sub(degrees, text)


# Unit symbols read after a number: (singular, plural). Single letters (m, g, l) are units only after a space,
# so "5m" (five million, in a headline) and "5g" stay as they were.
_UNITS = {
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"), "mi": ("mile", "miles"), "ft": ("foot", "feet"), "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "l": ("liter", "liters"), "L": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"), "kW": ("kilowatt", "kilowatts"), "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"), "min": ("minute", "minutes"), "mins": ("minutes", "minutes"),
    "hr": ("hour", "hours"), "hrs": ("hours", "hours"),
}  # fmt: skip
_UNIT = re.compile(
    rf"(?<![\w.,])(?P<number>{_INTEGER})?(?:\.(?P<fraction>\d+))?"
    rf"(?:\s?(?P<unit>{'|'.join(sorted((re.escape(u) for u in _UNITS if len(u) > 1), key=len, reverse=True))})"
    rf"|\s(?P<letter>[mglL]))(?![\w/])"
)


def _expand_units(text: str) -> str:
    """5 km -> "five kilometers", 1 kg -> "one kilogram", 2.5 GB -> "two point five gigabytes", 60 mph."""

    def spoken(match: re.Match[str]) -> str:
        if not match["number"] and not match["fraction"]:
            return match[0]
        one, many = _UNITS[match["unit"] or match["letter"]]
        singular = match["number"] == "1" and not match["fraction"]
        return f" {_decimal_words(match['number'], match['fraction'])} {one if singular else many} "

    return _UNIT.sub(spoken, text)


# --------------------------------------------------------------------------------------------------------------
# Letters and symbols

# fmt: off
SPOKEN_ACRONYMS = frozenset({
    "NASA", "NATO", "UNESCO", "UNICEF", "OPEC", "FIFA", "NAFTA", "LASER", "RADAR", "SCUBA", "AIDS", "COVID",
    "INTERPOL", "SARS", "ASEAN",
})
# fmt: on


def _spell(letters: str) -> str:
    return " ".join(letters)


def _expand_acronyms(text: str) -> str:
    """FBI -> "f b i", NASA -> "nasa", U.S.A. -> "u s a"; text written all in capitals is left as words."""
    text = re.sub(
        r"(?<![\w.])((?:[A-Za-z]\.){2,})",
        lambda m: _spell(m[1].replace(".", "")) + (" ." if m.string[m.end() :].strip() == "" else " "),
        text,
    )
    words = re.findall(r"[A-Za-z]{2,}", text)
    if len(words) >= 3 and not any(w != w.upper() for w in words):
        return text
    return re.sub(
        r"\b[A-Z]{2,}\b",
        lambda m: m[0].lower() if m[0] in SPOKEN_ACRONYMS else _spell(m[0]),
        text,
    )


def _expand_symbols(text: str) -> str:
    text = re.sub(r"\s*&\s*", " and ", text)
    text = re.sub(r"\s*@\s*", " at ", text)
    return re.sub(r"(?<![\w])\+(?=\s*\d)|\s\+\s", " plus ", text)


def _mark_punctuation(text: str) -> str:
    """Reduce punctuation to the four pause marks as separate tokens; anything else becomes a space."""
    text = re.sub(r"\.{2,}", " . ", text)
    text = re.sub(r"(?<=\w)\.(?=\w)", " ", text)  # a dot inside a token (example.com) is no pause
    text = re.sub(r"(?:^|\s)[-_]+(?=\s|$)", " , ", text)  # a spaced hyphen is a dash
    text = re.sub(r"[;:]", " , ", text)
    text = re.sub(r"[-_/]", " ", text)
    return re.sub(r"([,.?!])", r" \1 ", text)


_PAUSE_STRENGTH = {",": 0, ".": 1, "!": 2, "?": 3}


def _join_tokens(tokens: list[str], keep_punctuation: bool) -> str:
    """Collapse runs of pause marks into the strongest one and drop marks before the first word."""
    out: list[str] = []
    for token in tokens:
        if token not in _PAUSE_STRENGTH:
            out.append(token)
        elif keep_punctuation and out:
            if out[-1] in _PAUSE_STRENGTH:
                if _PAUSE_STRENGTH[token] > _PAUSE_STRENGTH[out[-1]]:
                    out[-1] = token
            else:
                out.append(token)
    return " ".join(out)


def _clean_words(text: str) -> list[str]:
    text = text.lower()
    text = re.sub(r"[^a-z',.?! ]", " ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # keep apostrophes only inside words
    return text.split()


_PASSES: tuple[Callable[[str], str], ...] = (
    _drop_control_sequences,
    _fold_unicode,
    _expand_dates,  # before the abbreviations, which read "Jan." without its day
    _expand_abbreviations,
    _expand_roman_numerals,  # before the acronyms, which would spell "VIII"
    _expand_fractions,
    _expand_phone_numbers,  # before the ranges: 212-555-0147 is no range
    _expand_ranges,
    _expand_temperatures,  # before the money pass, which reads a leading "-" as "minus" on its own terms
    _expand_money,
    _expand_percentages,
    _expand_times,
    _expand_units,  # before the years: "2020 km" is a distance
    _expand_ordinals,
    _expand_decades,
    _expand_years,
    _expand_numbers,
    _expand_symbols,
    _expand_acronyms,
    _mark_punctuation,
)


def normalize_text(text: str, keep_punctuation: bool = False) -> str:
    """Spoken-form English: lower-case words, single spaces, and (optionally) the pause marks , . ? !"""
    for step in _PASSES:
        text = step(text)
    return _join_tokens(_clean_words(text), keep_punctuation)
