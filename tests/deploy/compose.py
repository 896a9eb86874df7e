"""`docker compose` on docker/compose.yaml as a user runs it, under a project name of the test's own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker" / "compose.yaml"


def engine_missing() -> str | None:
    """Why the Docker tests cannot run here, or None if they can."""
    if shutil.which("docker") is None:
        return "no docker CLI (docker/engine.sh installs an engine)"
    for argv, what in ((["docker", "info"], "no running Docker engine"),
                       (["docker", "compose", "version"], "no Compose v2 plugin")):
        if subprocess.run(argv, capture_output=True, timeout=60).returncode != 0:
            return f"{what} (docker/engine.sh prepares one)"
    return None


@dataclass
class Compose:
    project: str
    out: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        env = {**os.environ, "COMPOSE_BAKE": "false", **self.env}
        if self.out is not None:
            env["SATEDGE_OUT"] = str(self.out)
        result = subprocess.run(["docker", "compose", "-p", self.project, "-f", str(COMPOSE_FILE), *args],
                                capture_output=True, text=True, env=env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stderr[-3000:]}")
        return result

    def containers(self) -> list[dict]:
        """Every container of the project, running or not (`docker compose ps -a`)."""
        text = self("ps", "-a", "--format", "json").stdout
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [r for row in rows for r in (row if isinstance(row, list) else [row])]

    def state(self, service: str) -> list[dict]:
        return [c for c in self.containers() if c["Service"] == service]

    def wait_for(self, what: str, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                logs = self("logs", "--tail", "40", check=False).stdout
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs[-6000:]}")
            time.sleep(2)

    def exited(self, service: str) -> bool:
        states = self.state(service)
        return bool(states) and all(c["State"] == "exited" for c in states)

    def all_exited(self) -> bool:
        return all(c["State"] == "exited" for c in self.containers())

    def summary(self) -> dict:
        assert self.out is not None
        return json.loads((self.out / "summary.json").read_text())

    def down(self) -> None:
        self("down", "-v", "--remove-orphans", "-t", "5", check=False)
