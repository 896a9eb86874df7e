"""Commands up: which pending command goes to which satellite in contact, and when.

The store is the queue (`satedge command` commits to it), and a command stays
pending for a satellite until that satellite's result is recorded. A `cmd`
or its answer may be lost on the link, so each pending command is sent at the
start of every contact and again every retry interval within it; the
satellite answers a repeat it has already run with "duplicate" and does not
run it twice (docs/protocol.md, "Reliability").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ground.link import Send
from ground.store import Command, Store
from ground.windows import Contact, Satellite
from satedge.logs import event

# Every station event keeps the one logger name it always had: readers of the log select by it.
log = logging.getLogger("ground.station")

MIN_CMD_RETRY_WALL_S = 2.0   # a command's answer takes wall time (set_precision compiles a model)


def retry_interval(cmd_retry_s: float, speedup: float) -> float:
    """Simulated seconds between re-sends: as configured, but never within 2 wall seconds."""
    return max(cmd_retry_s, MIN_CMD_RETRY_WALL_S * speedup)


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
            self.send(sat.id, now, "cmd", id=cmd.id, name=cmd.name, args=cmd.args)
            self.store.command_sent(cmd.id, sat.id, now)
            contact.cmd_sent[cmd.id] = now
            event(log, "command sent", sat=sat.id, id=cmd.id, name=cmd.name, args=cmd.args)

    def send_due(self, satellites: Iterable[Satellite], now: float) -> None:
        """One look at the queue for every satellite in contact (new commands, retries)."""
        for sat in satellites:
            if sat.contact is not None:
                self.send_to(sat, now)
