"""The daemons the bench measures, started through the project's one harness (`satedge.processes`)."""

from __future__ import annotations

from pathlib import Path

from satedge.config import to_toml
from satedge.processes import Child, Children

REPO = Path(__file__).resolve().parents[1]


def start(children: Children, command: str, config: dict, folder: Path) -> Child:
    """`satedge COMMAND` with `config` written to FOLDER/COMMAND.toml, logging to FOLDER/COMMAND.log."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{command}.toml"
    path.write_text(to_toml(config))
    return children.start(command, command, path, folder / f"{command}.log", cwd=REPO)
