"""Report scheduling on its own: off the loop, one rewrite at a time, a last one in full at shutdown."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ground.reporter import Reporter


class SlowWriter:
    """A report writer that holds until released, counting its runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = threading.Event()

    def __call__(self, db_path: Path, out_dir: Path) -> None:
        self.runs += 1
        self.release.wait(10)


def test_a_request_while_a_rewrite_runs_is_skipped_and_shutdown_writes_one_more(tmp_path):
    writer = SlowWriter()
    reporter = Reporter(tmp_path / "ground.sqlite", tmp_path / "report", writer)
    reporter.request()
    reporter.request()   # one is running: skipped
    assert reporter.busy()
    writer.release.set()
    reporter.finish()
    assert writer.runs == 2 and not reporter.busy()


def test_no_report_dir_means_no_report(tmp_path):
    writer = SlowWriter()
    reporter = Reporter(tmp_path / "ground.sqlite", None, writer)
    reporter.request()
    reporter.finish()
    assert writer.runs == 0 and reporter.thread is None


def test_a_failed_report_is_logged_not_raised(tmp_path, caplog):
    def broken(db_path: Path, out_dir: Path) -> None:
        raise OSError("disk full")

    caplog.set_level(logging.ERROR, logger="ground.station")
    reporter = Reporter(tmp_path / "ground.sqlite", tmp_path / "report", broken)
    reporter.finish()
    failed = [r for r in caplog.records if r.getMessage() == "report failed"]
    assert len(failed) == 1 and failed[0].fields["error"] == "disk full"
