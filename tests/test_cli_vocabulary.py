"""One spelling for one idea across every sub-command (speech/cli/options.py states the vocabulary).

The tests walk the parser that ``speech`` itself builds, so a new sub-command or option is checked as soon as
it is registered.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from speech.cli import COMMANDS, build_parser, main
from speech.cli.options import FOLDER_ALIASES, DeprecatedAlias

# Other spellings of the vocabulary's ideas, as other tools write them; none may appear (a DeprecatedAlias,
# hidden from --help, may keep an old one working for a release).
FOREIGN = {
    "--output": "-o/--out",
    "--outdir": "-o/--out",
    "--out-dir": "-o/--out",
    "--out_dir": "-o/--out",
    "--output-file": "-o/--out",
    "--model-dir": "--model",
    "--model_dir": "--model",
    "--checkpoint": "--model",
    "--force": "--overwrite",
    "--gpu": "--device",
    "--cuda": "--device",
    "--report": "--json",
    "--json-out": "--json",
    "--fmt": "--format",
}

# Not yet in the vocabulary, and why: each entry must fail its check, so a fix shows up here.
PENDING: dict[tuple[str, str], str] = {}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.option_strings and action.dest != "help"]


def test_every_command_is_walked() -> None:
    assert sorted(subcommands()) == sorted(COMMANDS)


def test_no_foreign_spellings() -> None:
    for name, parser in subcommands().items():
        for action in options(parser):
            if isinstance(action, DeprecatedAlias):
                assert action.help == argparse.SUPPRESS, (name, action.option_strings)
                continue
            for option in action.option_strings:
                assert option not in FOREIGN, f"speech {name} {option}: spell it {FOREIGN[option]}"


def test_one_option_one_destination_everywhere() -> None:
    """``--out`` means the same in every command (and so on for every option string)."""
    seen: dict[str, tuple[str, str]] = {}
    for name, parser in subcommands().items():
        for action in options(parser):
            for option in action.option_strings:
                first = seen.setdefault(option, (name, action.dest))
                assert first[1] == action.dest, (
                    f"{option}: '{action.dest}' in {name}, '{first[1]}' in {first[0]}"
                )


def test_outputs_are_dash_o_and_folders_take_whispers_spelling() -> None:
    pending = []
    for name, parser in subcommands().items():
        outs = [a for a in options(parser) if a.dest == "out" and not isinstance(a, DeprecatedAlias)]
        if not outs:
            continue  # eval writes a report (--json), nothing else
        (out,) = outs
        assert {"-o", "--out"} <= set(out.option_strings), name
        folder = out.metavar == "FOLDER" or out.default == "."
        has_aliases = set(FOLDER_ALIASES) <= set(out.option_strings)
        if (name, "folder aliases") in PENDING:
            assert folder and not has_aliases, f"{name}: fixed, take it out of PENDING"
            pending.append(name)
        else:
            assert has_aliases == folder, f"speech {name} -o: {FOLDER_ALIASES} exactly where -o is a folder"
    assert pending == [name for name, _ in PENDING]


def test_models_default_to_the_shipped_one_except_the_aligner() -> None:
    for name, parser in subcommands().items():
        for action in options(parser):
            if action.dest != "model":
                continue
            assert action.option_strings == ["--model"], name
            if name == "align":  # no aligner ships: the help says so, and why
                assert action.required and "no aligner ships" in action.help
            else:
                assert action.default and not action.required, name


def test_shared_options_mean_the_same() -> None:
    for name, parser in subcommands().items():
        for action in options(parser):
            if action.dest == "device":
                assert action.default == "cpu" and action.help.startswith("cpu, cuda or cuda:N"), name
            elif action.dest == "overwrite":
                assert action.option_strings == ["--overwrite"] and action.const is True, name
            elif action.dest == "seed":
                assert action.type is int, name
            elif action.dest == "json":
                assert action.option_strings == ["--json"] and action.metavar == "PATH", name
            elif action.dest == "format":
                assert "--format" in action.option_strings, name
    assert any(a.dest == "json" for a in options(subcommands()["eval"]))  # eval's report


def test_a_deprecated_spelling_still_works_and_says_what_to_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "a.txt").write_text("hi")
    caplog.set_level(logging.WARNING)
    args = build_parser().parse_args(["prepare", "folder", str(tmp_path), "--output", "m.jsonl"])
    assert args.out == "m.jsonl"
    assert "--output is deprecated and will be removed; use -o/--out" in caplog.text
    args = build_parser().parse_args(["prepare", "folder", str(tmp_path), "--out", "n.jsonl"])
    assert args.out == "n.jsonl"
    assert main(["prepare", "folder", str(tmp_path)]) == 1  # neither spelling: one line, exit 1
    assert capsys.readouterr().err == "error: -o/--out is required: the manifest to write\n"


def test_train_out_is_the_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``speech train CONFIG -o FOLDER`` is ``train.out_dir=FOLDER``: the run and its log land there."""
    seen = {}

    def fake_train(config, overrides=(), resume=False):
        seen["out_dir"], seen["resume"] = config.train.out_dir, resume
        logging.getLogger("speech.train.trainer").info("step 1 of a fake run")
        return Path(config.train.out_dir), {}

    monkeypatch.setattr("speech.train.train_model", fake_train)
    config = Path(__file__).resolve().parents[1] / "conf" / "asr" / "tiny.yaml"
    assert main(["train", str(config), "--output_dir", str(tmp_path / "run")]) == 0
    assert seen == {"out_dir": str(tmp_path / "run"), "resume": False}
    assert "INFO speech.train.trainer: step 1 of a fake run" in (tmp_path / "run" / "train.log").read_text()
