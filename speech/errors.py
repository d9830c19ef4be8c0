"""The toolkit's error base: anything raised as a ``SpeechError`` is a problem with the user's input.

Its message is one line naming the file (or option) and the problem, so a batch job can log it and go on,
and the CLI prints it without a traceback.
"""


class SpeechError(Exception):
    """Bad input the user can fix: a file, a manifest line, an option."""


def shown(name: object) -> str:
    """``name`` (a file name, a line of text) as a one-line message can show it: characters that are not
    printable, a newline or an escape among them, are written as Python escapes (``\\n``, ``\\x1b``), so a
    file named with a newline cannot split an error line or a line of ``failures.txt``, nor an undecodable
    byte (a surrogate) stop the message from being printed."""
    text = str(name)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
