"""Commands up: which pending command goes to which satellite in contact, and when.

The store is the queue (`satedge command` commits to it), and a command stays
pending for a satellite until that satellite's result is recorded. A `cmd`
or its answer may be lost on the link, so each pending command is sent at the
start of every contact and again every retry interval within it; the
satellite answers a repeat it has already run with "duplicate" and does not
run it twice (docs/protocol.md, "Reliability"). Every `cmd` carries the store's
incarnation, so a replaced store's ids are new commands to the satellite.

The store is a file anyone with access may edit: a command that cannot go on
the wire as docs/protocol.md says (args not a map, a number no frame can
carry) is answered here, `ok=false` "refused by the ground", and never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ground.link import Send
from ground.store import Command, Store
from ground.windows import Contact, Satellite
from satedge.logs import event
from satedge.protocol import INT_MAX, FrameError, check_storable

# Every station event keeps the one logger name it always had: readers of the log select by it.
log = logging.getLogger("ground.station")

MIN_CMD_RETRY_WALL_S = 2.0   # a command's answer takes wall time (set_precision compiles a model)


def retry_interval(cmd_retry_s: float, speedup: float) -> float:
    """Simulated seconds between re-sends: as configured, but never within 2 wall seconds."""
    return max(cmd_retry_s, MIN_CMD_RETRY_WALL_S * speedup)


def unsendable(cmd: Command) -> str:
    """Why `cmd` cannot be sent as docs/protocol.md says ("" if it can)."""
    if not 1 <= cmd.id <= INT_MAX:
        return f"id {cmd.id} out of range"
    if not isinstance(cmd.name, str):
        return "name is not text"
    if not isinstance(cmd.args, dict):
        return f"args must be a map, not {type(cmd.args).__name__}"
    try:
        check_storable(cmd.args, "args")
    except FrameError as exc:
        return str(exc).removeprefix("malformed: ")
    return ""


class CommandUplink:
    """Sends each satellite in contact the commands it has not answered: at the contact's start, then on retry."""

    def __init__(self, store: Store, send: Send, retry_s: float):
        self.store, self.send, self.retry_s = store, send, retry_s

    def due(self, sat_id: str, contact: Contact, now: float) -> list[Command]:
        """Pending commands for `sat_id` not sent in this contact, or sent at least `retry_s` ago."""
        due = []
        for cmd in self.store.pending_commands(sat_id):
            last = contact.cmd_sent.get(cmd.id)
            if last is None or now - last >= self.retry_s:
                due.append(cmd)
        return due

    def send_to(self, sat: Satellite, now: float) -> None:
        """Send `sat` every command that is due, and count each send in the store."""
        contact = sat.contact
        if contact is None:
            return
        for cmd in self.due(sat.id, contact, now):
            problem = unsendable(cmd)
            if problem:
                self.store.command_result(cmd.id, sat.id, False, f"refused by the ground: {problem}", now)
                event(log, "command refused", logging.WARNING, sat=sat.id, id=cmd.id, reason=problem)
                continue
            self.send(sat.id, now, "cmd", id=cmd.id, name=cmd.name, args=cmd.args, inc=self.store.inc)
            self.store.command_sent(cmd.id, sat.id, now)
            contact.cmd_sent[cmd.id] = now
            event(log, "command sent", sat=sat.id, id=cmd.id, name=cmd.name, args=cmd.args)

    def send_due(self, satellites: Iterable[Satellite], now: float) -> None:
        """One look at the queue for every satellite in contact (new commands, retries)."""
        for sat in satellites:
            if sat.contact is not None:
                self.send_to(sat, now)
