"""Uplinked commands (docs/protocol.md, "Commands"), replay-protected by the spool's `last_cmd`.

Commands arrive on the downlink thread and run one at a time on their own
thread (compiling a model takes a while and must not stall the link). A
command with `id <= last_cmd` is not run again: it is answered with its kept
result (the ground repeats a command whose answer the link lost), or
`duplicate` if that is no longer kept; one that is already queued is ignored
(the ground re-sends until it has a result). Ids are the ground store's, so
`last_cmd` is kept per ground incarnation (`inc`). The outcome and the new
`last_cmd` are committed together. Whatever a command raises is its answer:
nothing a command does can end the thread that runs them.
"""

from __future__ import annotations

import logging
import queue
import reprlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypedDict

from onboard.engine import Engine
from onboard.pipeline import Pipeline
from onboard.spool import Spool, Unwritable
from onboard.telemetry import Telemetry
from satedge.errors import UserError
from satedge.logs import event
from satedge.vocabulary import PRECISIONS

log = logging.getLogger("satedge.onboard.commands")

SHUTDOWN_WAIT_S = 600.0
# A command id this far past the last one is a ground's bug, not its next command: executed, it would make
# every later command a "duplicate" (ids come from one SQLite AUTOINCREMENT, one at a time).
MAX_ID_STEP = 1 << 32
MAX_DETAIL = 200   # characters of a failure's reason sent back (the answer costs credit)
# How a bad argument is quoted back: short and bounded, whatever the ground sent (the answer costs credit).
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 40, 40, 4, 4
_shown = _REPR.repr


class Fields(TypedDict, total=False):
    """What a command's "command done" event carries besides the id, name and outcome."""

    serving: str
    swapped_to: str
    swap_s: float
    min_class: int


class CommandError(Exception):
    """The command cannot be run as given; the message goes back in `detail`."""


def _reason(exc: BaseException) -> str:
    """A failure's reason for the ground: its type and first words, bounded."""
    text = " ".join(str(exc).split())
    return f"failed: {type(exc).__name__}: {text}"[:MAX_DETAIL]


class Abandoned(Exception):
    """The daemon is stopping: the command is not recorded, so the ground re-sends it after restart."""


class Commander:
    """Runs uplinked commands one at a time on its own thread, each at most once (replay-protected)."""

    def __init__(self, spool: Spool, pipeline: Pipeline, telemetry: Telemetry,
                 make_engine: Callable[[str], Engine]):
        self.spool, self.pipeline, self.telemetry = spool, pipeline, telemetry
        self.make_engine = make_engine
        # A handler returns its answer's `detail` and the fields its "command done" event carries.
        self.handlers: dict[str, Callable[[dict[str, object]], tuple[str, Fields]]] = {
            "set_precision": self.set_precision,
            "set_min_class": self.set_min_class,
        }
        self.queued: set[tuple[int, int]] = set()   # (inc, id)
        self.replies: list[tuple[int, bool, str, int]] = []   # (id, ok, detail, inc): answered, not stored
        self.failed = False
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._guard, name="onboard-commands", daemon=True)
        self._thread.start()

    def receive(self, msg: dict[str, Any]) -> None:
        """A `cmd` frame from the authenticated ground (called on the downlink thread)."""
        cmd_id, inc = msg["id"], msg.get("inc", 0)
        if inc != 0 and inc != self.spool.get("ground_inc", 0):
            event(log, "commands from a new ground store", logging.WARNING, inc=inc)
            self.spool.set("ground_inc", inc)
        last = self.spool.last_cmd_for(inc)
        if cmd_id <= last:
            if not self.spool.resend_result(cmd_id, inc):
                self.replies.append((cmd_id, True, "duplicate", inc))
            return
        if cmd_id > last + MAX_ID_STEP:
            self.replies.append((cmd_id, False, f"refused: id {cmd_id} jumps more than 2**32 past the last "
                                 f"command ({last})", inc))
            return
        if (inc, cmd_id) in self.queued:
            return
        self.queued.add((inc, cmd_id))
        self._queue.put(msg)

    def close(self) -> None:
        """Finish the queued commands, then end the thread; a swap the stopped pipeline cannot take is abandoned."""
        self._queue.put(None)
        self._thread.join(SHUTDOWN_WAIT_S)

    def _guard(self) -> None:
        """Should the loop itself fail (the spool cannot be written), the daemon stops, loudly: never a dead
        thread behind a healthy heartbeat."""
        try:
            self._work()
        except Unwritable as exc:    # the command is not recorded: the ground re-sends it after the restart
            event(log, "stopping: the spool cannot be written", logging.ERROR, error=str(exc))
            self.failed = True
        except BaseException:
            log.exception("the command thread failed")
            self.failed = True
            raise

    def _work(self) -> None:
        while (msg := self._queue.get()) is not None:
            cmd_id, inc = msg["id"], msg.get("inc", 0)
            if cmd_id <= self.spool.last_cmd_for(inc):   # overtaken by a newer id while it waited: re-ordered
                self.queued.discard((inc, cmd_id))
                self.replies.append((cmd_id, True, "duplicate", inc))
                continue
            started = time.monotonic()
            try:
                ok, (detail, fields) = True, self._run(msg)
            except (CommandError, UserError) as exc:
                ok, detail, fields = False, str(exc), {}
            except Abandoned:
                event(log, "command abandoned at shutdown", id=cmd_id, name=msg["name"])
                continue
            except Exception as exc:   # a bug or the system (a file that is a folder, a full disk): an answer
                log.exception("command %s failed", cmd_id)
                ok, detail, fields = False, _reason(exc), {}
            self.spool.finish_command(cmd_id, ok, detail, inc)
            self.queued.discard((inc, cmd_id))
            self.telemetry.count("commands")
            event(log, "command done", id=cmd_id, name=msg["name"], ok=ok, detail=detail,
                  s=round(time.monotonic() - started, 3), **fields)

    def _run(self, msg: dict[str, Any]) -> tuple[str, Fields]:
        handler = self.handlers.get(msg["name"])
        if handler is None:
            raise CommandError(f"unknown command {_shown(msg['name'])} (known: {', '.join(sorted(self.handlers))})")
        if not isinstance(msg["args"], dict):
            raise CommandError(f"args must be a map, got {_shown(msg['args'])}")
        return handler(msg["args"])

    def set_precision(self, args: dict[str, object]) -> tuple[str, Fields]:
        """Compile the new IR here while the old one serves, then wait until the pipeline swaps it in."""
        precision = args.get("precision")
        if not isinstance(precision, str) or precision not in PRECISIONS:
            raise CommandError(f"precision must be one of {', '.join(PRECISIONS)}, got {_shown(precision)}")
        current = self.pipeline.engine
        if current.manifest.resolve(precision) == current.precision:
            return f"already serving {current.precision}", {"serving": current.precision}
        started = time.monotonic()
        engine = self.make_engine(precision)           # compiled here, while the old one keeps serving
        request = self.pipeline.swap(engine)
        while not request.done.wait(0.1):
            if self.pipeline.stopped():
                raise Abandoned()
        seconds = time.monotonic() - started
        self.spool.set("precision", engine.precision)   # what the ground commanded outlives a restart
        self.telemetry.gauge(last_swap_s=round(seconds, 3))
        return (f"serving {engine.precision} (compile {engine.compile_seconds:.2f} s, swap {seconds:.2f} s)",
                {"serving": engine.precision, "swapped_to": engine.precision, "swap_s": round(seconds, 3)})

    def set_min_class(self, args: dict[str, object]) -> tuple[str, Fields]:
        """Persist the lowest class listed in summaries; scenes summarised from now on use it."""
        cls = args.get("cls")
        if not isinstance(cls, int) or isinstance(cls, bool) or not 1 <= cls <= 4:
            raise CommandError(f"cls must be an integer 1..4, got {_shown(cls)}")
        self.spool.set("min_class", cls)
        self.pipeline.min_class = cls
        return f"min_class {cls}", {"min_class": cls}
