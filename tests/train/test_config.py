from __future__ import annotations

import re
from pathlib import Path

import pytest

from speech.cli import main
from speech.config import ConfigError, check_paths, load_config

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "conf" / "asr" / "tiny.yaml"


def test_loads_yaml_with_typed_overrides() -> None:
    config = load_config(
        TINY, ["optim.lr=3e-4", "data.batch_seconds=200", "model.hidden=64", "optim.betas=[0.8, 0.9]"]
    )
    assert config.optim.lr == 3e-4 and isinstance(config.optim.lr, float)
    assert config.data.batch_seconds == 200.0 and isinstance(config.data.batch_seconds, float)
    assert config.model.hidden == 64 and config.model.layers == 1  # YAML value kept
    assert config.optim.betas == [0.8, 0.9]
    assert config.features.n_mels == 40 and config.features.hop_length == 160  # default kept


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hiden=64"], r"model.hiden: unknown key \(did you mean 'hidden'\?\)"),
        (["optimizer.lr=1"], r"optimizer: unknown key"),
        (["optim.lr=fast"], r"optim.lr: expected float, got 'fast'"),
        (["train.max_steps=1.5"], r"train.max_steps: expected int, got 1.5"),
        (["train.max_steps=true"], r"train.max_steps: expected int, got True"),
        (["optim.schedule=cyclic"], r"optim.schedule: must be one of cosine, linear, constant"),
        (["features.kind=spectrogram"], r"feature kind must be 'logmel' or 'mfcc'"),
        (["task=juggling"], r"task must be one of .*asr.*, got .juggling."),
        (["optim.lr"], r"expected key=value"),
        (["optim.lr=-1"], r"optim.lr: must be greater than 0, got -1.0$"),
        (["optim.lr=.nan"], r"optim.lr: expected a finite number, got nan$"),
        (["optim.lr=inf"], r"optim.lr: expected a finite number, got inf$"),
        (["optim.betas=[0.9, 1.5]"], r"optim.betas: must be between 0 and 1, got 1.5$"),
        (["train.max_steps=-5"], r"train.max_steps: must be at least 0, got -5$"),
        (["train.checkpoint_every=0"], r"train.checkpoint_every: must be at least 1, got 0$"),
        (["data.batch_seconds=-5"], r"data.batch_seconds: must be greater than 0, got -5.0$"),
        (["optim.lr=!!python/object/apply:os.system [touch pwned]"], r"not a YAML value \(could not determ"),
        (["optim.betas=[0.9"], r"optim.betas=\[0.9': not a YAML value"),
        (["data.train=[shards, 3]"], r"data.train\[1\]: expected str, got 3$"),
        (["data.train=3"], r"data.train: expected str or a list of str, got 3$"),
    ],
)
def test_bad_values_fail_before_work_starts(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(TINY, overrides)
    assert str(caught.value).startswith(str(TINY)) or "override" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_required_values_and_files(tmp_path: Path) -> None:
    (tmp_path / "bare.yaml").write_text("model: {hidden: 8}\n")
    with pytest.raises(ConfigError, match="task must be one of"):
        load_config(tmp_path / "bare.yaml")
    (tmp_path / "list.yaml").write_text("- task\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "none.yaml")
    config = load_config(TINY)
    with pytest.raises(ConfigError, match="data.train: required"):
        check_paths(config)
    config = load_config(TINY, [f"data.train={tmp_path}"])
    with pytest.raises(ConfigError, match="holds no shards.json"):
        check_paths(config)
    (tmp_path / "shards.json").write_text("{}")
    config = load_config(TINY, [f"data.train=[{tmp_path}, {tmp_path}/other]"])
    assert config.data.train_sources == [str(tmp_path), f"{tmp_path}/other"]
    with pytest.raises(ConfigError, match=re.escape(f"data.train: {tmp_path}/other holds no shards.json")):
        check_paths(config)
    with pytest.raises(ConfigError, match="data.train: required"):
        check_paths(load_config(TINY, ["data.train=[]"]))


def test_cli_reports_config_errors_in_one_line(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["train", str(TINY), f"data.train={tmp_path}/missing", f"train.out_dir={tmp_path}/run"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "data.train" in error and "Traceback" not in error
    assert not (tmp_path / "run").exists()  # nothing started


def test_cli_rejects_out_of_range_values_before_any_work(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    for override in ("train.max_steps=-5", "optim.lr=-1", "optim.lr=!!python/name:os.system"):
        status = main(
            ["train", str(TINY), f"data.train={tmp_path}", f"train.out_dir={tmp_path}/run", override]
        )
        assert status == 1, override
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "Traceback" not in error, error
    assert not (tmp_path / "run").exists()
