"""The model zoo's contract: `models/<name>/manifest.json` (docs/architecture.md, "Models").

Training writes it (`write`), the daemon reads it (`Manifest.load`) and
verifies an IR's sha256 before compiling it. An IR's input is the pre-event
and post-event tiles stacked as 6 channels in the manifest's channel order,
raw 0..255 values (u8): normalisation is inside the IR, so the satellite
cannot normalise differently from training. Its output is per-pixel class
probabilities `[N, 5, tile, tile]` (softmax inside the IR).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from satedge.errors import UserError
from satedge.vocabulary import MODEL_CLASSES

MANIFEST = "manifest.json"
CHANNELS = ["pre_r", "pre_g", "pre_b", "post_r", "post_g", "post_b"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    """What the IR takes: raw u8 tiles in this channel order; `mean`/`std` are applied inside it."""

    shape: list[int]                       # [N, 6, tile, tile]
    layout: str = "NCHW"
    channels: list[str] = Field(default_factory=lambda: list(CHANNELS))
    dtype: str = "u8"
    mean: list[float]                      # per channel, 0..255 scale: applied inside the IR
    std: list[float]


class OutputSpec(_Strict):
    """What the IR returns: per-pixel probabilities over `classes`, background first."""

    shape: list[int]                       # [N, 5, tile, tile]
    classes: list[str] = Field(default_factory=lambda: list(MODEL_CLASSES))
    kind: str = "probabilities"


class PrecisionEntry(_Strict):
    """One IR of the model: its files, their sha256 (checked before loading) and what it measured."""

    xml: str
    bin: str
    sha256: dict[str, str]                 # {"xml": ..., "bin": ...}
    scores: dict[str, Any] = Field(default_factory=dict)     # held-out xView2 numbers (satedge evaluate)
    # the same held-out scenes with less of a pre-event view (`satedge evaluate --pre none|half`)
    scores_by_pre: dict[str, Any] = Field(default_factory=dict)
    bench: dict[str, Any] = Field(default_factory=dict)      # throughput measured by satedge bench


class Manifest(_Strict):
    """A model folder's `manifest.json`: the contract between training and the satellite."""

    name: str
    format: int = 1
    tile: int
    overlap: int = 0
    gsd_m: float = 0.5
    input: InputSpec
    output: OutputSpec
    default_int8: str = "int8-nncf"
    training: dict[str, Any] = Field(default_factory=dict)   # command, seed, data, epochs, git revision
    precisions: dict[str, PrecisionEntry] = Field(default_factory=dict)

    dir: Path | None = Field(default=None, exclude=True)

    @classmethod
    def load(cls, model_dir: str | Path) -> Manifest:
        """The manifest of `model_dir`, validated; a missing or malformed one is a `UserError`."""
        model_dir = Path(model_dir)
        path = model_dir / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"no {MANIFEST} in model folder {model_dir}") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read {path}: {exc}") from None
        try:
            manifest = cls.model_validate(data)
        except ValueError as exc:
            raise UserError(f"{path}: not a valid manifest: {exc}".splitlines()[0]) from None
        manifest.dir = model_dir
        return manifest

    def resolve(self, precision: str) -> str:
        """`int8` means the manifest's default INT8; anything else must be listed."""
        name = self.default_int8 if precision == "int8" else precision
        if name not in self.precisions:
            have = ", ".join(sorted(self.precisions)) or "none"
            raise UserError(f"model {self.name} has no {precision} IR (has: {have})")
        return name

    def ir(self, precision: str, verify: bool = True) -> Path:
        """Path of the IR's .xml for `precision`, after checking both files' sha256."""
        name = self.resolve(precision)
        entry = self.precisions[name]
        assert self.dir is not None
        if verify:
            for part in ("xml", "bin"):
                path = self.dir / getattr(entry, part)
                if not path.is_file():
                    raise UserError(f"{path} is missing" if not path.exists() else f"{path} is not a file")
                try:
                    digest = sha256(path)
                except OSError as exc:
                    raise UserError(f"cannot read {path}: {exc.strerror}") from None
                if digest != entry.sha256[part]:
                    raise UserError(f"{path}: sha256 does not match the manifest: refusing to load it")
        return self.dir / entry.xml

    def save(self) -> Path:
        """Write `manifest.json` by rename, so a reader never sees half a file."""
        assert self.dir is not None
        path = self.dir / MANIFEST
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n")
        tmp.replace(path)
        return path

    def add_ir(self, precision: str, xml: Path) -> PrecisionEntry:
        """Record (or replace) the IR `xml` (+ its .bin) for `precision`, with its sha256."""
        xml = Path(xml)
        binary = xml.with_suffix(".bin")
        entry = PrecisionEntry(xml=xml.name, bin=binary.name,
                               sha256={"xml": sha256(xml), "bin": sha256(binary)})
        old = self.precisions.get(precision)
        if old is not None:
            entry.scores, entry.bench = old.scores, old.bench
        self.precisions[precision] = entry
        return entry


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MB blocks (an IR can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
