"""Run docker/compose.yaml's topology as separate hosts: one Linux network namespace per
container, joined by veth pairs to a bridge, each running the service's own commands with
the service's own environment (volumes become host folders)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker" / "compose.yaml"
SUBNET = "10.213.7"


def available() -> str | None:
    """None if namespaces can be made here, else the reason they cannot."""
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"se-probe-{uuid.uuid4().hex[:6]}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode:
        return f"`ip netns add` is not allowed here: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe])
    return None


def _interpolate(value: str, env: dict) -> str:
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1), m.group(2) or ""), str(value))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class Host:
    name: str
    address: str
    netns: str
    processes: list[subprocess.Popen] = field(default_factory=list)


class Topology:
    """A bridge in a hub namespace, and one namespace (a "host") per compose container."""

    def __init__(self, root: Path):
        self.root = root
        self.tag = uuid.uuid4().hex[:5]
        self.hub = f"se-hub-{self.tag}"
        self.hosts: dict[str, Host] = {}
        _ip("netns", "add", self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")

    def add_host(self, name: str) -> Host:
        index = len(self.hosts) + 1
        host = Host(name, f"{SUBNET}.{index}", f"se-{name}-{self.tag}"[:15])
        veth, peer = f"v{self.tag}{index}", f"p{self.tag}{index}"
        _ip("netns", "add", host.netns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
        _ip("link", "set", veth, "netns", host.netns)
        _ip("link", "set", peer, "netns", self.hub)
        _ip("-n", self.hub, "link", "set", peer, "master", "br0")
        _ip("-n", self.hub, "link", "set", peer, "up")
        _ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", veth)
        _ip("-n", host.netns, "link", "set", veth, "up")
        _ip("-n", host.netns, "link", "set", "lo", "up")
        self.hosts[name] = host
        return host

    def run(self, host: Host, argv: list[str], env: dict, log: Path, wait: bool = False):
        command = ["ip", "netns", "exec", host.netns, *argv]
        with open(log, "ab") as sink:
            if wait:
                return subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=sink, text=True,
                                      timeout=300, check=True).stdout
            proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
        host.processes.append(proc)
        return proc

    def close(self) -> None:
        for host in self.hosts.values():
            for proc in host.processes:
                if proc.poll() is None:
                    proc.terminate()
            for proc in host.processes:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.hub], capture_output=True)


def service_env(service: str, volumes: dict[str, Path], extra: dict) -> dict:
    """The service's compose environment, container paths mapped to host folders, plus `extra`."""
    spec = yaml.safe_load(COMPOSE.read_text())["services"][service]
    env = dict(os.environ)
    env.pop("SATEDGE_LOG_FORMAT", None)
    for key, value in spec.get("environment", {}).items():
        value = _interpolate(value, extra)
        for inside, outside in volumes.items():
            value = value.replace(inside, str(outside))
        env[key] = value
    env.update(extra)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env


def service_command(service: str, volumes: dict[str, Path]) -> list[str]:
    """The service's command, container paths in its arguments mapped to host folders."""
    spec = yaml.safe_load(COMPOSE.read_text())["services"][service]
    args = []
    for arg in spec["command"]:
        for inside, outside in volumes.items():
            if arg == inside or arg.startswith(inside + "/"):
                arg = str(outside) + arg[len(inside):]
        args.append(arg)
    return [str(Path(sys.executable).parent / "satedge"), *args]
