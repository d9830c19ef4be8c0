"""Log lines under torchrun: rank 0's by default, every rank's on request, and a copy in the run folder."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from speech.audio import OutputError
from speech.cli.logs import RankFilter, TqdmHandler, _formatter, log_to_file


def logged(rank: int, world_size: int, all_ranks: bool) -> str:
    stream = io.StringIO()
    handler = TqdmHandler(stream)
    handler.addFilter(RankFilter(rank, world_size, all_ranks))
    handler.setFormatter(_formatter("%(message)s"))
    logger = logging.getLogger(f"test.rank{rank}.{all_ranks}")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    logger.info("resumed from step 10")
    logger.error("rank lost its data")
    logger.removeHandler(handler)
    return stream.getvalue()


def test_only_rank_0_logs_unless_asked() -> None:
    assert logged(0, 1, False) == "resumed from step 10\nrank lost its data\n"  # alone: no prefix
    assert logged(0, 4, False) == "resumed from step 10\nrank lost its data\n"
    assert logged(2, 4, False) == "[rank 2] rank lost its data\n"  # errors still show, saying whose
    assert logged(2, 4, True) == "[rank 2] resumed from step 10\n[rank 2] rank lost its data\n"
    assert logged(0, 4, True) == "[rank 0] resumed from step 10\n[rank 0] rank lost its data\n"


def test_log_file_appends_timestamped_lines_for_the_block_only(tmp_path: Path) -> None:
    path = tmp_path / "run" / "train.log"  # the run folder need not exist yet
    log = logging.getLogger("speech.test")
    for run in ("first", "resumed"):
        with log_to_file(path):
            log.info("%s run", run)
            log.debug("not in the file")
    log.info("after the block")
    lines = path.read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO speech.test: first run",
        "INFO speech.test: resumed run",
    ]
    assert all(line[:4].isdigit() for line in lines)  # a date first


def test_an_unwritable_log_file_is_one_line_and_a_silent_run_leaves_no_folder(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("a file where the run folder should be")
    blocked = log_to_file(tmp_path / "run" / "sub" / "train.log")
    with pytest.raises(OutputError, match=r"train.log: cannot write \(.*run is a file\)"), blocked:
        pass
    (tmp_path / "taken.log").mkdir()
    with pytest.raises(OutputError, match="taken.log: cannot write"), log_to_file(tmp_path / "taken.log"):
        pass
    with log_to_file(tmp_path / "quiet" / "train.log"):
        pass  # nothing logged: no folder made
    assert not (tmp_path / "quiet").exists()
