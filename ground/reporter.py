"""Rewriting the report while the station runs: off the loop, one rewrite at a time.

Drawing the plots takes about a second, far longer than a turn of the loop
may, so each rewrite runs in a thread that reads the store on its own
connection. A request while one runs is skipped: the next window's rewrite
covers it, and the one at shutdown is written in full. A failed report is
logged, never worth the station.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from satedge.logs import event

# Every station event keeps the one logger name it always had: readers of the log select by it.
log = logging.getLogger("ground.station")

Write = Callable[[Path, Path], object]


class Reporter:
    """Starts report rewrites from the store into `report_dir` (None: no report), never two at once."""

    def __init__(self, store_path: Path, report_dir: Path | None, write: Write | None = None):
        self.store_path, self.report_dir = store_path, report_dir
        self.write = write   # None: ground.report.write_report, imported on first use (it loads matplotlib)
        self.thread: threading.Thread | None = None

    def busy(self) -> bool:
        """Whether a rewrite is still running."""
        return self.thread is not None and self.thread.is_alive()

    def request(self) -> None:
        """Start a rewrite unless one is running (or there is nowhere to write)."""
        report_dir = self.report_dir
        if report_dir is None or self.busy():
            return
        write = self.write
        if write is None:
            from ground.report import write_report
            write = write_report

        def run() -> None:
            try:
                write(self.store_path, report_dir)
            except Exception as exc:  # a report is never worth the station
                event(log, "report failed", logging.ERROR, error=str(exc), out=str(report_dir))

        self.thread = threading.Thread(target=run, name="report", daemon=True)
        self.thread.start()

    def finish(self, timeout_s: float = 60.0) -> None:
        """At shutdown: wait for the running rewrite (it may predate the last window), then write one in full."""
        if self.report_dir is None:
            return
        if self.thread is not None:
            self.thread.join(timeout_s)
        self.request()
        if self.thread is not None:
            self.thread.join(timeout_s)
