"""pipelines/parse_options.sh, which every recipe sources: --name value options, stages, --help, refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

PARSER = Path(__file__).resolve().parents[2] / "pipelines" / "parse_options.sh"


def recipe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "recipe" / "run.sh"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        "#!/usr/bin/env bash\n# A recipe.\n#\n#   bash run.sh DATA [--stage N]\nset -euo pipefail\n"
        f"stage=1 stop_stage=9 vocoder_steps=100\n. {PARSER}\n"
        'echo "data=$1 steps=$vocoder_steps"\n'
        "for n in 1 2 3 4; do stage_on $n && echo stage $n; done; true\n"
    )
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_options_become_variables_and_choose_the_stages(tmp_path: Path) -> None:
    run = recipe(tmp_path, "corpus", "--vocoder-steps", "7", "--stage", "2", "--stop-stage", "3")
    assert run.returncode == 0 and run.stdout.split("\n") == ["data=corpus steps=7", "stage 2", "stage 3", ""]
    assert recipe(tmp_path, "--help").stdout.strip() == "A recipe.\n\n  bash run.sh DATA [--stage N]"


def test_unknown_options_and_missing_values_are_refused_in_one_line(tmp_path: Path) -> None:
    for args in (["corpus", "--stpe", "2"], ["corpus", "--stage"]):
        run = recipe(tmp_path, *args)
        assert run.returncode == 2 and run.stdout == ""
        assert run.stderr.count("\n") == 1 and "unknown option or missing value" in run.stderr
