"""The console in a real headless Chromium, over a real run: the ground station (with its console) and the
onboard daemon as subprocesses, real ZeroMQ, real SQLite, OpenVINO on a real IR.

The IR is the banded model of tests/onboard/test_pipeline.py (class per pixel = post-event red band), so
each scene made by `buildings_scene` holds exactly one building of each class 1..4, of which the daemon
lists classes 2..4 (its default min_class): the map must show three buildings per scene.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ground.report import build_report, write_report
from ground.store import Store, command_results, stored_count
from satedge.config import to_toml
from satedge.processes import free_port
from satedge.protocol import post_only_bitmap, validate_body
from tests.console.http import post
from tests.ground.conftest import StationProcess
from tests.ground.minisat import summary_body
from tests.onboard.conftest import ORIGIN, REF_SIZE, RES, DaemonProcess, texture, write_tiff
from tests.onboard.test_pipeline import banded_model_dir, buildings_scene  # noqa: F401  (a fixture)

pytestmark = pytest.mark.timeout(120)

SCENES = 2
LISTED_PER_SCENE = 3     # classes 2, 3, 4 of buildings_scene at the default min_class 2
WAIT_MS = 30_000


class Run:
    """The ground (console on, write access on) and one satellite, on one simulated clock."""

    def __init__(self, root: Path, model: Path):
        self.root = root
        port, self.console_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.console_port}"
        self.db = root / "ground.sqlite"
        self.token_file = root / "keys" / "console.token"
        now = time.time()
        clock = {"epoch": now, "start": now, "speedup": 10.0}
        security = {"mode": "none", "keys_dir": str(root / "keys")}
        ground = root / "ground.toml"
        ground.write_text(to_toml({
            "clock": clock, "security": security, "station": {"bind": f"tcp://127.0.0.1:{port}"},
            # a 30 s window every 60 s of simulated time: 3 s open, 3 s closed on the wall clock
            "link": {"period_s": 60.0, "window_s": 30.0, "offset_s": 30.0},
            "store": {"path": str(self.db)}, "log": {"status_interval_s": 60.0},
            "console": {"bind": f"127.0.0.1:{self.console_port}", "write": True, "refresh_s": 0.3}}))
        write_tiff(root / "reference.tif", texture(1234, REF_SIZE), west=ORIGIN[0], north=ORIGIN[1])
        self.inbox = root / "inbox"
        self.inbox.mkdir()
        onboard = root / "onboard.toml"
        onboard.write_text(to_toml({
            "clock": clock, "security": security, "satellite": {"id": "sat-1"},
            "ground": {"address": f"tcp://127.0.0.1:{port}", "resend_s": 2.0},
            "ingest": {"inbox": str(self.inbox), "reference": str(root / "reference.tif"), "poll_s": 0.05},
            "model": {"dir": str(model), "precision": "fp32", "cache_dir": str(root / "ov-cache")},
            "spool": {"path": str(root / "spool.sqlite")}, "log": {"status_interval_s": 0.5}}))
        self.ground = StationProcess(ground, root / "ground.log").start()
        self.daemon = DaemonProcess(onboard, root / "onboard.log")
        for i in range(SCENES):
            write_tiff(self.inbox / f"town-{i}.tif", buildings_scene(), west=ORIGIN[0] + (100 + 200 * i) * RES,
                       north=ORIGIN[1] - 200 * RES, tags={"ACQUISITION_TIME": str(now)})

    def token(self) -> str:
        return self.token_file.read_text().strip()

    def wait_delivered(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while stored_count(self.db) < SCENES:
            assert time.monotonic() < deadline, f"{SCENES} summaries not stored:\n{self.daemon.log()[-3000:]}"
            assert self.daemon.proc.poll() is None, self.daemon.log()[-3000:]
            time.sleep(0.1)

    def stop(self) -> None:
        try:
            self.daemon.terminate(timeout=20)
        finally:
            self.ground.stop()


@pytest.fixture(scope="module")
def run(tmp_path_factory, banded_model_dir):  # noqa: F811  (the imported fixture)
    the_run = Run(tmp_path_factory.mktemp("console-run"), banded_model_dir)
    try:
        yield the_run
    finally:
        the_run.stop()




def test_map_shows_every_building_received(run, page):
    run.wait_delivered()
    expected = SCENES * LISTED_PER_SCENE
    report, _, features = build_report(run.db)
    assert report["buildings"] == len(features) == expected
    page.goto(f"{run.url}/map")
    page.wait_for_selector(f"#building-count[data-count='{expected}']", timeout=WAIT_MS)
    assert page.locator("path.building").count() == expected
    assert page.locator("path.scene").count() == SCENES
    assert page.locator("path.building.cls-4").count() == SCENES      # one destroyed building per scene
    page.locator("path.building.cls-4").first.click(force=True)
    popup = page.locator(".leaflet-popup-content").inner_text(timeout=WAIT_MS)
    for word in ("destroyed", "confidence", "m²", "town-", "acquired", "received"):
        assert word in popup, popup
    assert not page.errors


def test_operations_view_updates_when_a_window_opens(run, page):
    page.goto(f"{run.url}/operations")
    page.wait_for_selector("#window-state[data-win='']", timeout=WAIT_MS)        # between two windows ...
    page.wait_for_selector("#window-state:not([data-win=''])", timeout=WAIT_MS)  # ... and the next one opens
    opened = page.locator("#window-state").get_attribute("data-win")
    assert page.locator("#window-state").inner_text() == f"window {opened} open"
    row = page.locator("#satellites tr[data-sat='sat-1']")
    row.wait_for(timeout=WAIT_MS)
    assert "yes" in row.inner_text()
    assert not page.errors


def test_precision_swap_from_the_page_is_answered_by_the_satellite(run, page):
    page.goto(f"{run.url}/operations")
    page.wait_for_selector("#command-form:not([hidden])", timeout=WAIT_MS)
    page.fill("#token", run.token())
    page.select_option("#command-name", "set-precision")
    page.fill("#command-value", "fp16")
    page.click("#command-send")
    page.wait_for_selector("#command-result.ok", timeout=WAIT_MS)
    message = page.locator("#command-result").inner_text()
    assert message.startswith("queued command ") and "fp16" in message, message
    cmd_id = int(message.split()[2].rstrip(":"))
    answer = page.locator(f"#commands tr[data-cmd='{cmd_id}'] .answers .yes")
    answer.wait_for(timeout=WAIT_MS)                                     # the satellite's own answer
    result = next(r for r in command_results(run.db) if r["cmd_id"] == cmd_id)
    # "serving fp16 (compile ..., swap ...)"; or "duplicate" if that answer came as the window closed and
    # only the re-sent command's was heard: then the satellite's next hello says what it serves.
    assert result["ok"] is True and (result["detail"].startswith("serving fp16") or result["detail"] == "duplicate")
    assert f"sat-1 ok: {result['detail']}" in answer.inner_text()
    page.wait_for_selector("#satellites tr[data-sat='sat-1'] td.prec:text-is('fp16')", timeout=WAIT_MS)
    assert not page.errors


@pytest.mark.parametrize(("verb", "value", "said"), [
    ("set-precision", "fp64", "unknown precision 'fp64'"),
    ("set-min-class", "7", "set-min-class takes a class from 1 to 4, got '7'"),
])
def test_an_unknown_value_is_refused_with_a_message(run, page, verb, value, said):
    queued = len(build_report(run.db)[0]["commands"])
    page.goto(f"{run.url}/operations")
    page.wait_for_selector("#command-form:not([hidden])", timeout=WAIT_MS)
    page.fill("#token", run.token())
    page.select_option("#command-name", verb)
    page.fill("#command-value", value)
    page.click("#command-send")
    page.wait_for_selector("#command-result.error", timeout=WAIT_MS)
    assert said in page.locator("#command-result").inner_text()
    assert len(build_report(run.db)[0]["commands"]) == queued     # nothing reached the queue


def test_a_command_without_the_token_is_refused(run, page):
    queued = len(build_report(run.db)[0]["commands"])
    page.goto(f"{run.url}/operations")
    page.wait_for_selector("#command-form:not([hidden])", timeout=WAIT_MS)
    page.fill("#command-value", "fp16")                             # no token typed
    page.click("#command-send")
    page.wait_for_selector("#command-result.error", timeout=WAIT_MS)
    assert "needs the console token" in page.locator("#command-result").inner_text()
    status, body = post(f"{run.url}/api/commands", {"command": "set-precision", "value": "fp16"},
                        token="not-the-token")
    assert status == 401 and body == {"error": "wrong console token"}
    assert len(build_report(run.db)[0]["commands"]) == queued


def test_report_html_is_the_same_map_offline(run, page, tmp_path):
    run.wait_delivered()
    write_report(run.db, tmp_path / "report")
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<script src" not in html and "<link" not in html              # nothing fetched
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else
               route.continue_())
    page.goto((tmp_path / "report" / "report.html").as_uri())
    expected = SCENES * LISTED_PER_SCENE
    page.wait_for_selector(f"#building-count[data-count='{expected}']", timeout=WAIT_MS)
    assert page.locator("path.building").count() == expected
    assert not page.errors


def test_post_only_buildings_are_hollow_and_say_so(page, tmp_path):
    """report.html (the console's own map code) of a scene the reference covered 55 % and an older satellite's."""
    partly = summary_body(1) | {"cov": 55, "po": post_only_bitmap([False, True, True])}
    validate_body(partly)
    store = Store(tmp_path / "ground.sqlite")
    store.add_summaries([dict(satellite="sat-1", seq=seq, prio=0, received=body["acq"] + 60, win=1, bytes=300,
                              body=body) for seq, body in ((1, partly), (2, summary_body(2)))])
    store.close()
    write_report(tmp_path / "ground.sqlite", tmp_path / "report")
    page.goto((tmp_path / "report" / "report.html").as_uri())
    page.wait_for_selector("#building-count[data-count='6']", timeout=WAIT_MS)
    assert page.locator("path.building.post-only").count() == 2
    legend = page.locator(".legend").inner_text()
    assert "graded post-only (no pre-event view) 2" in legend, legend
    assert "1 scene(s) with partial or no pre-event reference" in legend, legend
    page.locator("path.building.post-only").first.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content").inner_text(timeout=WAIT_MS)
    assert "graded post-only (no pre-event view)" in popup and "55 % of the scene" in popup, popup
    page.locator("path.scene.partial-reference").dispatch_event("click")
    popup = page.locator(".leaflet-popup-content", has_text="listed").inner_text(timeout=WAIT_MS)
    assert "55 % of the scene" in popup and "2 of 3 listed" in popup, popup
    assert page.locator("path.scene.partial-reference").count() == 1
    assert not page.errors
