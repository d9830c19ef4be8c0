"""A recipe's end product: one self-contained folder per model, with a model card, that the CLI loads as it is.

A voice folder holds the acoustic model (``config.json`` + ``model.safetensors``) and, when one was trained,
its vocoder in ``vocoder/`` (which :meth:`speech.synthesizer.Synthesizer.load` prefers over the shipped
one, since it was trained on the same recordings); a recognizer folder holds the acoustic model and its
decoder files (``lm.arpa``, ``lexicon.txt``, ``decoder.json``). Both get a ``README.md`` model card written
from the recipe's own records (corpus counts, training steps, held-out scores, the command that made it), in
the Hugging Face layout the shipped models use. A folder is built beside its destination and renamed into
place, so a crash never leaves half a model where a working one was.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from speech.errors import SpeechError

RECOGNIZER_FILES = ("config.json", "model.safetensors", "lm.arpa", "lexicon.txt", "decoder.json")
MODEL_FILES = ("config.json", "model.safetensors")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SpeechError(f"{path}: cannot read ({error})") from None


def replace_folder(out: Path, files: dict[str, Path], card: str) -> Path:
    """Write ``out`` holding ``files`` (name inside the folder -> source) and ``README.md``, replacing any
    folder there in one rename."""
    out = Path(out).absolute()
    missing = [str(source) for source in files.values() if not source.is_file()]
    if missing:
        raise SpeechError(f"cannot package {out}: missing {', '.join(missing)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for name, source in files.items():
            (build / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, build / name)
        (build / "README.md").write_text(card, encoding="utf-8")
        os.chmod(build, 0o755)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
        os.replace(build, out)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return out


def _front_matter(meta: dict[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _corpus_section(corpus: dict[str, Any]) -> list[str]:
    lines = [
        f"Imported from `{corpus['source']}` as `{corpus['format']}`: {corpus['entries']} entries, "
        f"{corpus['kept']} kept, {corpus['skipped']} skipped"
        + (
            " (" + ", ".join(f"{n} {kind}" for kind, n in corpus["skipped_by_kind"].items()) + ")"
            if corpus["skipped"]
            else ""
        )
        + "; every item left out is listed with its reason in the data folder's `skipped.tsv`.",
        f"Source sample rates (clips): {', '.join(f'{r} Hz ({n})' for r, n in corpus['source_sample_rates'].items())}; "
        "all resampled to 16 kHz.",
        f"Split {corpus['split']}.",
        "",
        "| split | utterances | minutes | speakers |",
        "|---|---|---|---|",
    ]
    for name, split in corpus["splits"].items():
        lines.append(f"| {name} | {split['utterances']} | {60 * split['hours']:.1f} | {split['speakers']} |")
    return lines


def _training_line(what: str, model: Path) -> str:
    config = _read_json(model / "config.json")
    metrics = ", ".join(f"{k} {v:.3g}" for k, v in (config.get("metrics") or {}).items())
    return f"- {what} ({config['task']}): step {config.get('step', '?')}" + (
        f", validation {metrics}" if metrics else ""
    )


def voice_scores_markdown(scores: dict[str, Any]) -> str:
    """A voice's scores (pipelines/voice/score.py's JSON) as the card's tables."""
    trip, mos = scores["round_trip_cer"], scores["dnsmos"]
    lines = [
        f"{scores['sentences']} held-out sentences; vocoder: {scores['vocoder']}",
        "",
        "| audio | round-trip CER (%) | DNSMOS OVRL | SIG | BAK |",
        "|---|---|---|---|---|",
    ]
    for name in ("voice", "recordings"):
        m = mos[name]
        lines.append(f"| {name} | {trip[name]:.1f} | {m['ovrl']:.2f} | {m['sig']:.2f} | {m['bak']:.2f} |")
    if "copy_synthesis" in scores:
        lines += ["", "| copy synthesis | MCD (dB) | PESQ-wb | STOI |", "|---|---|---|---|"]
        for name, row in scores["copy_synthesis"].items():
            lines.append(f"| {name} | {row['mcd']:.2f} | {row['pesq']:.2f} | {row['stoi']:.3f} |")
    return "\n".join(lines)


def _made_by(command: str, smoke: bool) -> list[str]:
    today = datetime.date.today().isoformat()
    lines = [f"Made on {today} by the recipe command", "", f"    {command}", ""]
    if smoke:
        lines += [
            "**A smoke run**: every stage ran with tiny configs to check the corpus and the set-up. This model "
            "has learnt nothing useful; run the command again without `--smoke` for a real one.",
            "",
        ]
    return lines


def package_voice(
    out: Path,
    name: str,
    tts: Path,
    vocoder: Path | None,
    corpus: dict[str, Any] | None,
    scores: dict[str, Any] | None,
    command: str,
    smoke: bool = False,
) -> Path:
    """A voice folder for ``speech synthesize --voice`` / ``speech serve --voice``: acoustic model, vocoder
    (if trained), card."""
    files = {file: tts / file for file in MODEL_FILES}
    if vocoder:
        files.update({f"vocoder/{file}": vocoder / file for file in MODEL_FILES})
    meta: dict[str, Any] = {
        "license": "other",
        "language": ["en"],
        "library_name": "speech",
        "pipeline_tag": "text-to-speech",
        "tags": ["tacotron", "smoke-test"] if smoke else ["tacotron"],
        "datasets": [corpus["source"] if corpus else "unknown"],
        "metrics": ["cer"],
    }
    if scores:
        trip = scores["round_trip_cer"]
        meta["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "text-to-speech"},
                        "dataset": {
                            "name": f"{scores['sentences']} held-out sentences, round trip through "
                            "speech/assets/asr (beam 32 + LM)",
                            "type": "custom",
                        },
                        "metrics": [
                            {"type": "cer", "value": float(trip["voice"]), "name": "CER (%) of this voice"},
                            {
                                "type": "cer",
                                "value": float(trip["recordings"]),
                                "name": "CER (%) of the speaker's recordings",
                            },
                        ],
                    }
                ],
            }
        ]
    lines = [f"# Voice `{name}`", "", *_made_by(command, smoke)]
    lines += [
        "## Use",
        "",
        f"    speech synthesize --voice {out} story.txt -o out/",
        f"    speech serve --voice {out}",
        "",
        "Set `license` above to the licence of the recordings before sharing this folder.",
        "",
        "## Data",
        "",
        *(_corpus_section(corpus) if corpus else ["(no corpus record)"]),
        "",
        "## Training",
        "",
        _training_line("acoustic model", tts),
        _training_line("vocoder, in vocoder/", vocoder)
        if vocoder
        else "- vocoder: none trained (Griffin-Lim)",
        "",
        "## Scores",
        "",
        voice_scores_markdown(scores) if scores else "Not scored (stage 7 did not run).",
        "",
        "What the numbers mean: docs/your-data.md, 'What the scores in a model card mean'.",
        "",
    ]
    return replace_folder(out, files, _front_matter(meta) + "\n" + "\n".join(lines))


def _eval_row(label: str, scores: dict[str, Any]) -> str:
    return f"| {label} | {100 * scores['wer']:.1f}% | {100 * scores['cer']:.1f}% | {scores['utterances']} |"


def package_recognizer(
    out: Path,
    name: str,
    model: Path,
    corpus: dict[str, Any] | None,
    evals: Iterable[tuple[str, dict[str, dict[str, Any]]]],
    command: str,
    smoke: bool = False,
) -> Path:
    """A model folder for ``speech transcribe --model``: acoustic model, decoder files, card. ``evals``:
    (test set, {"before": eval JSON, "greedy": ..., "beam": ...}) from ``speech eval --json``."""
    files = {file: model / file for file in RECOGNIZER_FILES if (model / file).is_file()}
    evals = list(evals)
    results = []
    for test, runs in evals:
        best = runs.get("beam") or runs.get("greedy")
        if best:
            results.append(
                {
                    "task": {"type": "automatic-speech-recognition"},
                    "dataset": {"name": f"held-out {test}", "type": "custom"},
                    "metrics": [
                        {"type": "wer", "value": round(100 * float(best["wer"]), 2), "name": "WER (%)"},
                        {"type": "cer", "value": round(100 * float(best["cer"]), 2), "name": "CER (%)"},
                    ],
                }
            )
    meta: dict[str, Any] = {
        "license": "other",
        "language": ["en"],
        "library_name": "speech",
        "pipeline_tag": "automatic-speech-recognition",
        "tags": ["ctc", "lstm", "smoke-test"] if smoke else ["ctc", "lstm"],
        "datasets": [corpus["source"] if corpus else "unknown"],
        "metrics": ["wer", "cer"],
    }
    if results:
        meta["model-index"] = [{"name": name, "results": results}]
    decoder = _read_json(model / "decoder.json") if (model / "decoder.json").is_file() else {}
    lines = [f"# Recognizer `{name}`", "", *_made_by(command, smoke)]
    lines += [
        "## Use",
        "",
        f"    speech transcribe --model {out} recordings/ -o transcripts/",
        f"    speech transcribe --model {out} --beam 32 recordings/ -o transcripts/   # with its LM",
        "",
        "## Data",
        "",
        *(_corpus_section(corpus) if corpus else ["(the recipe's own manifests; no import record)"]),
        "",
        "## Training",
        "",
        _training_line("acoustic model", model),
        f"- decoder: {'lm.arpa' if 'lm.arpa' in files else 'no LM'}"
        + (" with a word lexicon" if "lexicon.txt" in files else "")
        + (f"; tuned settings {json.dumps(decoder)}" if decoder else ""),
        "",
        "## Scores on the held-out part (before: the starting model; after: this one)",
        "",
        "| test set, model, decoding | WER | CER | utterances |",
        "|---|---|---|---|",
    ]
    labels = {"before": "before, beam 32 + its LM", "greedy": "after, greedy", "beam": "after, beam 32 + LM"}
    for test, runs in evals:
        lines += [_eval_row(f"{test}: {labels[kind]}", runs[kind]) for kind in labels if kind in runs]
    lines += ["", "What the numbers mean: docs/your-data.md, 'What the scores in a model card mean'.", ""]
    return replace_folder(out, files, _front_matter(meta) + "\n" + "\n".join(lines))
