"""Word n-gram LMs: Kneser-Ney estimates checked against a from-the-formula reference and against KenLM."""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import pytest

from speech.lm import (
    BOS,
    EOS,
    UNK,
    LMError,
    build_lm,
    count_ngrams,
    estimate_kneser_ney,
    read_arpa,
    read_corpus,
    spell,
    write_arpa,
    write_lexicon,
)

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT / "tools" / "corpus_text" / "sentences.txt"
HISTORIES = [
    (),
    (BOS,),
    (BOS, "the"),
    ("the",),
    ("of", "the"),
    ("on", "the"),
    ("i", "left", "my"),
    ("unseen", "words"),
    ("the", "unseen"),
]


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, ...]]:
    """The repository's prompt sentences; a fixed slice keeps the tests' speed independent of its growth."""
    return list(read_corpus([SENTENCES]))[:700]


def _load_tool():
    spec = importlib.util.spec_from_file_location("build_lm_tool", ROOT / "tools" / "build_lm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arpa_sections(path: Path) -> tuple[dict[int, int], dict[int, list[str]]]:
    """Header counts and section lines, parsed independently of speech.lm.read_arpa."""
    header: dict[int, int] = {}
    sections: dict[int, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("ngram "):
            n, count = line[6:].split("=")
            header[int(n)] = int(count)
        elif line.endswith("-grams:"):
            current = int(line[1:-7])
            sections[current] = []
        elif line == "\\end\\":
            current = None
        elif line and current is not None:
            sections[current].append(line)
    return header, sections


def _reference_kneser_ney(sentences, order):
    """p(w | h) straight from Chen & Goodman's interpolated modified Kneser-Ney formulas, no back-off file."""
    raw: Counter = Counter()
    for sentence in sentences:
        tokens = [BOS, *sentence, EOS]
        for n in range(1, order + 1):
            raw.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    left: dict[tuple, set] = {}
    for g in raw:
        if len(g) > 1:
            left.setdefault(g[1:], set()).add(g[0])

    def adjusted(g):
        return raw[g] if len(g) == order or g[0] == BOS else len(left[g])

    by_order = {n: [g for g in raw if len(g) == n and g != (BOS,)] for n in range(1, order + 1)}
    discounts = {}
    for n, grams in by_order.items():
        t = Counter(adjusted(g) for g in grams)
        y = t[1] / (t[1] + 2 * t[2])
        discounts[n] = (0.0, 1 - 2 * y * t[2] / t[1], 2 - 3 * y * t[3] / t[2], 3 - 4 * y * t[4] / t[3])
        assert 0 < discounts[n][1] < 1 and 0 < discounts[n][2] < 2 and 0 < discounts[n][3] < 3
    following: dict[tuple, list] = {}
    for grams in by_order.values():
        for g in grams:
            following.setdefault(g[:-1], []).append(g)
    vocabulary_size = len(by_order[1]) + 1  # + <unk>

    def probability(word, history):
        grams = following.get(history, [])
        if not grams:
            return probability(word, history[1:])
        d = discounts[len(history) + 1]
        total = sum(adjusted(g) for g in grams)
        gamma = sum(d[min(adjusted(g), 3)] for g in grams) / total
        g = (*history, word)
        own = (adjusted(g) - d[min(adjusted(g), 3)]) / total if g in raw else 0.0
        lower = 1 / vocabulary_size if not history else probability(word, history[1:])
        return own + gamma * lower

    return probability


def test_arpa_header_counts_match_sections(tmp_path, corpus):
    model = build_lm(corpus, order=3)
    write_arpa(model, tmp_path / "lm.arpa")
    header, sections = _arpa_sections(tmp_path / "lm.arpa")
    assert (
        header
        == {n: len(lines) for n, lines in sections.items()}
        == {1: model.counts[0], 2: model.counts[1], 3: model.counts[2]}
    )
    assert (tmp_path / "lm.arpa").read_text().lstrip().startswith("\\data\\")
    unigrams = {line.split("\t")[1]: line.split("\t") for line in sections[1]}
    assert {UNK, BOS, EOS} <= unigrams.keys()
    assert unigrams[BOS][0] == "-99" and len(unigrams[BOS]) == 3  # never predicted, but a context
    assert all(len(line.split("\t")) == 2 for line in sections[3])  # no backoff at the top order
    assert read_arpa(tmp_path / "lm.arpa").counts == model.counts


@pytest.mark.parametrize(("order", "min_count"), [(1, 1), (2, 1), (3, 1), (3, 2), (4, 1)])
def test_each_history_distribution_sums_to_one(tmp_path, corpus, order, min_count):
    write_arpa(build_lm(corpus, order=order, min_count=min_count), tmp_path / "lm.arpa")
    model = read_arpa(tmp_path / "lm.arpa")  # the rounded file, as a decoder sees it
    predictable = [g[0] for g in model.entries[0] if g[0] != BOS]
    for history in HISTORIES:
        total = sum(10 ** model.log10_prob(word, history) for word in predictable)
        assert total == pytest.approx(1.0, abs=1e-4), history


def test_matches_the_kneser_ney_formulas(corpus):
    model = build_lm(corpus, order=3)
    reference = _reference_kneser_ney(corpus, order=3)
    known = {g[0] for g in model.entries[0]}
    for history in HISTORIES:
        # an unknown word reads as <unk>, which no seen n-gram contains: only the words after it count
        unknown = [i for i, w in enumerate(history) if w not in known]
        usable = history[unknown[-1] + 1 :] if unknown else history
        for word in ("the", "a", "my", "morning", EOS, "salt"):
            expected = math.log10(reference(word, usable))
            assert model.log10_prob(word, history) == pytest.approx(expected, abs=1e-9), (word, history)
        assert model.log10_prob("zebra", history) == pytest.approx(model.log10_prob(UNK, history))


def test_kenlm_reads_the_same_probabilities(tmp_path, corpus):
    """flashlight's KenLM (the decoder's LM) scores whole sentences exactly as the estimate says."""
    from flashlight.lib.text.decoder import kenlm as kenlm_module
    from flashlight.lib.text.dictionary import create_word_dict

    model = build_lm(corpus, order=3)
    write_arpa(model, tmp_path / "lm.arpa")
    words = [*model.words, UNK]
    dictionary = create_word_dict({w: [[w]] for w in words})
    kenlm = kenlm_module.KenLM(str(tmp_path / "lm.arpa"), dictionary)
    for sentence in (corpus[0], ("the", "kettle", "takes", "a", "morning"), ("my", "sister", "the")):
        state, history = kenlm.start(False), [BOS]
        for word in sentence:
            state, score = kenlm.score(state, dictionary.get_index(word))
            assert score == pytest.approx(model.log10_prob(word, history), abs=1e-5)
            history.append(word)
        _, score = kenlm.finish(state)
        assert score == pytest.approx(model.log10_prob(EOS, history), abs=1e-5)


def test_min_count_prunes_higher_orders_only(corpus):
    full, pruned = build_lm(corpus, 3), build_lm(corpus, 3, min_count=2)
    assert pruned.counts[0] == full.counts[0]
    assert pruned.counts[1] < full.counts[1] and pruned.counts[2] < full.counts[2]
    counts = count_ngrams(corpus, 3)
    assert all(counts[2][g] >= 2 for g in pruned.entries[2])
    with pytest.raises(LMError, match="min-count"):
        estimate_kneser_ney(counts, min_count=0)


def test_tiny_corpus_falls_back_to_default_discounts():
    model = build_lm(["the cat sat", "the cat ate"], order=3)
    predictable = [g[0] for g in model.entries[0] if g[0] != BOS]
    for history in [(), (BOS,), (BOS, "the"), ("the", "cat")]:
        assert sum(10 ** model.log10_prob(w, history) for w in predictable) == pytest.approx(1.0, abs=1e-9)


def test_read_corpus_normalises_text_and_manifests(tmp_path):
    (tmp_path / "a.txt").write_text("Hello, World!\n\n  \nI have 5 cats.\n")
    records = [{"id": "u1", "audio": "x.wav", "text": "Dr. Smith's car"}, {"id": "u2", "text": "?!"}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")
    sentences = list(read_corpus([tmp_path / "a.txt", tmp_path / "m.jsonl"]))
    assert sentences == [("hello", "world"), ("i", "have", "five", "cats"), ("doctor", "smith's", "car")]
    assert list(read_corpus([tmp_path / "a.txt"], jobs=2)) == sentences[:2]


def test_read_corpus_errors_name_the_file_and_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"text": 3}\n')
    with pytest.raises(LMError, match=r"bad\.jsonl:2: .*'text'"):
        list(read_corpus([tmp_path / "bad.jsonl"]))
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(LMError, match=r"broken\.jsonl:1: not valid JSON"):
        list(read_corpus([tmp_path / "broken.jsonl"]))
    with pytest.raises(LMError, match=r"missing\.txt: file not found"):
        list(read_corpus([tmp_path / "missing.txt"]))
    with pytest.raises(LMError, match="empty"):
        count_ngrams([], 3)


def test_lexicon_spells_each_word_with_a_boundary(tmp_path):
    model = build_lm(["don't stop", "stop now"], order=2)
    write_lexicon(model.words, tmp_path / "lexicon.txt")
    assert (tmp_path / "lexicon.txt").read_text().splitlines() == [
        "don't d o n ' t |",
        "now n o w |",
        "stop s t o p |",
    ]
    with pytest.raises(LMError):
        write_lexicon(["<unk>"], tmp_path / "bad.txt")
    assert not (tmp_path / "bad.txt").exists()


def test_build_lm_tool(tmp_path, corpus):
    (tmp_path / "train.jsonl").write_text(
        "".join(json.dumps({"text": " ".join(s).capitalize() + "."}) + "\n" for s in corpus[:300])
    )
    (tmp_path / "extra.txt").write_text("\n".join(" ".join(s) for s in corpus[300:]) + "\n")
    tool = _load_tool()
    arpa, lexicon = tmp_path / "out" / "lm.arpa", tmp_path / "out" / "lexicon.txt"
    argv = [
        str(tmp_path / "train.jsonl"),
        str(tmp_path / "extra.txt"),
        "-o",
        str(arpa),
        "--lexicon",
        str(lexicon),
    ]
    assert tool.main([*argv, "--order", "3", "--jobs", "1"]) == 0
    assert read_arpa(arpa).counts == build_lm(corpus, 3).counts
    assert len(lexicon.read_text().splitlines()) == len(build_lm(corpus, 3).words)
    assert tool.main([str(tmp_path / "nope.txt"), "-o", str(tmp_path / "x.arpa")]) == 1
    assert not (tmp_path / "x.arpa").exists()


def test_build_lm_tool_character_model(tmp_path):
    """--units chars: an LM over letters and the word boundary, the decoder's own tokens."""
    (tmp_path / "train.txt").write_text("The cat sat.\nThe dog ran!\n")
    tool = _load_tool()
    argv = [str(tmp_path / "train.txt"), "-o", str(tmp_path / "lm.arpa"), "--units", "chars"]
    assert tool.main([*argv, "--order", "4", "--jobs", "1"]) == 0
    model = read_arpa(tmp_path / "lm.arpa")
    assert model.order == 4 and model.words == sorted(set("thecatsatdogran") | {"|"})
    assert model.log10_prob("t", ("|", "c", "a")) > model.log10_prob("n", ("|", "c", "a"))
    assert spell(("the", "cat")) == tuple("the|cat")
    with pytest.raises(SystemExit):
        tool.main([*argv, "--lexicon", str(tmp_path / "lexicon.txt")])


def test_build_lm_tool_speaks_the_cli_vocabulary(tmp_path, caplog, capsys):
    """-o/--out as in every speech command (the old --output still works, with a warning); no progress bar
    when standard error is not a terminal."""
    (tmp_path / "train.txt").write_text("the cat sat\nthe dog ran\n")
    tool = _load_tool()
    assert tool.main([str(tmp_path / "train.txt"), "--out", str(tmp_path / "a.arpa"), "--jobs", "1"]) == 0
    assert tool.main([str(tmp_path / "train.txt"), "--output", str(tmp_path / "b.arpa"), "--jobs", "1"]) == 0
    assert (tmp_path / "a.arpa").read_text() == (tmp_path / "b.arpa").read_text()
    assert "--output is deprecated and will be removed; use -o/--out" in caplog.text
    assert "reading" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / "train.txt")])
    assert "-o/--out is required" in capsys.readouterr().err
