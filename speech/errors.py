"""The toolkit's error base: anything raised as a ``SpeechError`` is a problem with the user's input.

Its message is one line naming the file (or option) and the problem, so a batch job can log it and go on,
and the CLI prints it without a traceback.
"""


class SpeechError(Exception):
    """Bad input the user can fix: a file, a manifest line, an option."""
