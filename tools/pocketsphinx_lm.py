"""The US English word LM that PyPI pocketsphinx bundles (``en-us.lm.bin``, 72,000 words, CMU Sphinx's BSD-style
licence) as a bigram ARPA and a flashlight lexicon of its words, for lexicon-constrained beam search:

    python tools/pocketsphinx_lm.py -o exp/word_lm            # writes lm.arpa and lexicon.txt there

Why bigrams only: pocketsphinx 5.1.1 converts the binary model to ARPA (``NGramModel.write``) but crashes
while writing its trigrams, after the unigrams and bigrams are complete. The conversion runs in a child
process, and what it finished is kept: unigrams with their back-off weights, bigrams without theirs (a
bigram model has no use for them), counts in the header set to what was kept. Words outside a-z and the
apostrophe (none in practice) are left out of the lexicon.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech.audio import atomic_output  # noqa: E402
from speech.lm import write_lexicon  # noqa: E402


def convert(path: str) -> None:
    """Write the bundled model as ARPA to ``path`` (in a child process: the writer may crash)."""
    import pocketsphinx

    model = pocketsphinx.NGramModel(
        pocketsphinx.Config(), pocketsphinx.LogMath(), pocketsphinx.get_model_path("en-us/en-us.lm.bin")
    )
    model.write(path, model.str_to_type("arpa"))


def complete_sections(arpa: str) -> tuple[list[str], list[str]]:
    """The complete unigram lines and bigram lines (back-off weights dropped) of a possibly cut-off ARPA."""
    unigrams: list[str] = []
    pairs: list[str] = []
    section = None
    for line in arpa.splitlines(keepends=True):
        if line.startswith("\\"):
            section = line.strip()
            continue
        fields = line.rstrip("\n").split("\t")
        if section == "\\1-grams:" and len(fields) >= 2:
            unigrams.append(line.rstrip("\n"))
        elif section == "\\2-grams:" and line.endswith("\n") and len(fields) >= 3:
            pairs.append(f"{fields[0]}\t{fields[1]} {fields[2]}")
        elif section not in (None, "\\data\\", "\\1-grams:", "\\2-grams:"):
            break
    return unigrams, pairs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-o", "--out", type=Path, required=True, help="folder for lm.arpa and lexicon.txt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "en-us.arpa"
        child = multiprocessing.get_context("spawn").Process(target=convert, args=(str(raw),))
        child.start()
        child.join()
        if child.exitcode and child.exitcode > 0:  # an exception (no pocketsphinx?), not the writer's crash
            print(
                f"error: converting pocketsphinx's LM failed (exit status {child.exitcode})", file=sys.stderr
            )
            return 1
        unigrams, pairs = complete_sections(raw.read_text(errors="replace") if raw.exists() else "")
    if not unigrams or not pairs:
        print("error: pocketsphinx wrote no usable unigrams and bigrams", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out / "lm.arpa", "w") as stream:
        stream.write(f"\\data\\\nngram 1={len(unigrams)}\nngram 2={len(pairs)}\n\n\\1-grams:\n")
        stream.write("\n".join(unigrams) + "\n\n\\2-grams:\n" + "\n".join(pairs) + "\n\n\\end\\\n")
    words = [line.split("\t")[1] for line in unigrams]
    spellable = [word for word in words if re.fullmatch(r"[a-z']*[a-z][a-z']*", word)]
    write_lexicon(spellable, args.out / "lexicon.txt")
    print(f"{len(unigrams)} unigrams, {len(pairs)} bigrams, {len(spellable)} lexicon words -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
