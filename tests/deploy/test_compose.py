"""docker/compose.yaml checked structurally (no Docker engine here): every command is a real
`satedge` invocation with valid options, every file a build needs exists, and every
environment variable is a real configuration key of the process it is given to."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from satedge.cli import build_parser

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker" / "compose.yaml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def config_classes(command: str):
    from ground.config import GroundConfig
    from onboard.config import OnboardConfig
    from sim.config import CameraConfig
    return {"ground": [GroundConfig], "onboard": [OnboardConfig], "camera": [CameraConfig]}.get(command, [])


def dockerfile(service: dict) -> Path:
    build = service["build"]
    return (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve()


def entrypoint_commands(service: dict) -> list[list[str]]:
    """The satedge invocations a service runs: its command, or those in its entrypoint script."""
    text = dockerfile(service).read_text()
    entry = re.search(r"^ENTRYPOINT\s+(\[.*\])", text, re.M)
    assert entry, f"{dockerfile(service)} has no ENTRYPOINT"
    entrypoint = yaml.safe_load(entry.group(1))
    if entrypoint == ["satedge"]:
        return [list(service.get("command", []))]
    script = REPO / "docker" / f"{entrypoint[0]}.sh"
    assert script.exists(), f"entrypoint {entrypoint[0]} is not docker/{entrypoint[0]}.sh"
    commands = []
    for line in script.read_text().splitlines():
        words = shlex.split(line.split("#")[0]) if "satedge" in line else []
        words = [w for w in words if w not in ("exec", "&")]
        if words and words[0] == "satedge":
            commands.append([w for w in words[1:] if not w.startswith("$(") and "$" not in w] or words[1:])
    return commands


def parses(argv: list[str]) -> None:
    try:
        build_parser(argv).parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`satedge {' '.join(argv)}` is not a valid invocation (exit {exc.code})")


def test_every_service_builds_from_files_that_exist():
    for name, service in compose()["services"].items():
        path = dockerfile(service)
        assert path.exists(), f"{name}: {path} missing"
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        for line in path.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (context / source).exists(), f"{name}: COPY {source} does not exist"


def test_every_command_is_a_real_satedge_invocation():
    for name, service in compose()["services"].items():
        commands = entrypoint_commands(service)
        assert commands, f"{name} runs no satedge command"
        health = service.get("healthcheck", {}).get("test")
        if health:
            assert health[0] == "CMD" and health[1] == "satedge", f"{name}: healthcheck is not satedge"
            commands.append(health[2:])
        for argv in commands:
            parses(argv)


def test_every_environment_variable_is_a_configuration_key():
    for name, service in compose()["services"].items():
        commands = {argv[0] for argv in entrypoint_commands(service)}
        classes = [cls for command in commands for cls in config_classes(command)]
        for var in service.get("environment", {}):
            if not var.startswith("SATEDGE_"):
                continue
            assert classes, f"{name} sets {var} but runs no configurable process"
            assert any(_is_key(cls, var) for cls in classes), f"{name}: {var} is no configuration key"


def _is_key(config_cls, var: str) -> bool:
    for section, field in config_cls.model_fields.items():
        prefix = f"SATEDGE_{section.upper()}_"
        annotation = field.annotation
        if var.startswith(prefix) and hasattr(annotation, "model_fields"):
            if var[len(prefix):].lower() in annotation.model_fields:
                return True
    return False


def test_volumes_and_dependencies_are_declared():
    spec = compose()
    for name, service in spec["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in spec["volumes"], f"{name}: volume {source} not declared"
        for dep in service.get("depends_on", {}):
            assert dep in spec["services"], f"{name} depends on unknown service {dep}"


def test_the_onboard_image_points_at_the_committed_default_model():
    from onboard.config import DEFAULT_MODEL
    text = (REPO / "docker" / "onboard.Dockerfile").read_text()
    assert f"ENV SATEDGE_MODEL_DIR=/app/models/{DEFAULT_MODEL}" in text
    assert (REPO / "models" / DEFAULT_MODEL / "manifest.json").exists()
