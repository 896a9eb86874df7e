"""Checkpoints: the model's weights with everything needed to rebuild, resume and export it."""

from __future__ import annotations

from pathlib import Path

import torch

from satedge.errors import UserError
from training.model import build


def save(path: Path, **state) -> None:
    """Write atomically, so a crash mid-save never leaves a half-written `last.pt`."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load(path: str | Path) -> dict:
    """The checkpoint's dict on the CPU; a one-line UserError if it is missing, unreadable or not satedge's."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a bad file
        raise UserError(f"cannot read checkpoint {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict) or "model" not in state or "model_config" not in state:
        raise UserError(f"{path} is not a satedge checkpoint (no model / model_config)")
    return state


def load_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, checkpoint dict) from a checkpoint written by `satedge train`."""
    state = load(path)
    model = build(state["model_config"])
    model.load_state_dict(state["model"])
    return model.eval(), state
