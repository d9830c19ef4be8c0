"""The notebooks in notebooks/: each runs top to bottom on the CPU and shows a plot and an audio player; the
committed files carry no outputs; their code uses only the public API (``speech.<name in speech.__all__>``)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

import speech

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
NAMES = ["transcribe", "train", "synthesize"]
SHARED = Path(os.environ.get("SPEECH_SHARED", REPO.parent / "shared"))
FSDD = Path(os.environ.get("SPEECH_FSDD", SHARED / "data" / "fsdd"))
VOICE = REPO / "speech" / "assets" / "voice" / "config.json"
KERNEL = "speech-notebooks"
CELL_TIMEOUT_S = 600


def notebook(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def code_cells(name: str) -> list[str]:
    return ["".join(cell["source"]) for cell in notebook(name)["cells"] if cell["cell_type"] == "code"]


def test_the_public_api_resolves() -> None:
    """Every name in ``speech.__all__`` imports, and none is shadowed by a submodule of the same name."""
    for name in speech.__all__:
        value = getattr(speech, name)
        assert not isinstance(value, type(sys)), f"speech.{name} is a module"


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str) -> None:
    for cell in notebook(name)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{name}.ipynb has outputs: clear them before committing"
            )


@pytest.mark.parametrize("name", NAMES)
def test_uses_only_the_public_api(name: str) -> None:
    public = set(speech.__all__)
    for source in code_cells(name):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                assert all(alias.name != "speech" or alias.asname is None for alias in node.names)
                assert not [a.name for a in node.names if a.name.startswith("speech.")], ast.unparse(node)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "speech":
                assert node.module == "speech", f"{name}: {ast.unparse(node)} imports a submodule"
                assert {alias.name for alias in node.names} <= public, ast.unparse(node)
            elif isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "speech":
                assert node.attr in public, f"{name}: speech.{node.attr} is not in speech.__all__"


def test_the_readme_links_them() -> None:
    readme = (REPO / "README.md").read_text()
    for name in NAMES:
        assert f"notebooks/{name}.ipynb" in readme


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    """A kernel spec for this interpreter, found first on JUPYTER_PATH: notebooks run with this venv's
    packages whatever other 'python3' kernels the machine has."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name=KERNEL, prefix=str(prefix))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        patch.setenv("WANDB_MODE", "disabled")
        patch.setenv("SPEECH_FSDD", str(FSDD))
        yield KERNEL


def outputs(executed: dict) -> list[dict]:
    return [output for cell in executed["cells"] if cell["cell_type"] == "code" for output in cell["outputs"]]


@pytest.mark.parametrize("name", NAMES)
def test_runs_top_to_bottom(name: str, kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    fsdd = (FSDD / "recordings").is_dir()
    synthesisers = bool(shutil.which("flite") and shutil.which("espeak-ng"))
    if name == "synthesize" and not VOICE.exists():
        pytest.skip(f"no shipped voice yet ({VOICE.relative_to(REPO)} is missing)")
    if name == "synthesize" and not synthesisers:
        pytest.skip("flite is not installed (the reference voice; make setup installs it as root)")
    if name == "train" and not fsdd:
        pytest.skip(f"FSDD recordings not found at {FSDD} (set SPEECH_FSDD or SPEECH_SHARED)")
    if name == "transcribe" and not (fsdd or synthesisers):
        pytest.skip("neither the FSDD nor flite and espeak-ng to synthesise test audio")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # what the notebook writes goes to pytest's temporary folder
    executed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        executed,
        kernel_name=kernel,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # run from notebooks/, as Jupyter does
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    shown = outputs(executed)
    assert not [o for o in shown if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in shown), f"{name}: no plot"
    assert any("<audio" in o.get("data", {}).get("text/html", "") for o in shown), f"{name}: no audio player"
