"""Training: a few steps lower the loss; checkpoints, curves, resume; the backend registry."""

import csv
import importlib.util
import json

import pytest
import torch

from tests.conftest import run_cli
from training.dataset import CropDataset, SceneCache, find_pairs
from training.losses import DamageLoss
from training.model import UNet
from training.train import TrainConfig, train


def _steps_lower_the_loss(data, tmp_path):
    torch.manual_seed(0)
    cache = SceneCache(find_pairs(data), tmp_path / "cache")
    batch = next(iter(torch.utils.data.DataLoader(CropDataset(cache, 64, 8, seed=0, augmented=False),
                                                  batch_size=8)))
    model = UNet(width=8, depth=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss_fn = DamageLoss([0.5, 1, 2, 2, 2], "dice")
    losses = []
    for _ in range(12):
        loss = loss_fn(model(batch[0]), batch[1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses


def test_a_few_steps_lower_the_loss_on_hand_made_scenes(tiny_xbd, tmp_path):
    _steps_lower_the_loss(tiny_xbd, tmp_path)


def test_a_few_steps_lower_the_loss_on_generated_scenes(tmp_path):
    from sim.scenes import generate
    generate(tmp_path / "scenes", 2, seed=3, size=128, fmt="xbd")
    _steps_lower_the_loss(tmp_path / "scenes", tmp_path)


def test_train_writes_checkpoints_curves_and_resumes(tiny_xbd, tmp_path):
    cfg = TrainConfig(data=tiny_xbd, out=tmp_path / "run", epochs=3, max_minutes=1e-9, samples=16, batch=8, tile=64,
                      overlap=16, width=4, depth=2, val_scenes=2, workers=1, quiet=True, command="test", seed=5,
                      amp="bf16")
    summary = train(cfg)
    assert summary["epochs_run"] == 1          # the time budget stops it after the first epoch
    run_dir = tmp_path / "run"
    for name in ("last.pt", "best.pt", "curves.csv", "curves.png", "run.json"):
        assert (run_dir / name).exists(), name
    record = json.loads((run_dir / "run.json").read_text())
    assert record["seed"] == 5 and record["command"] == "test" and record["amp"] == "bf16"
    assert not set(record["train_events"]) & set(record["val_events"])
    cfg.max_minutes, cfg.resume = None, True
    train(cfg)
    rows = list(csv.DictReader(open(run_dir / "curves.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(r["val_score"] != "" for r in rows)


@pytest.mark.skipif(importlib.util.find_spec("intel_extension_for_pytorch") is not None,
                    reason="IPEX is installed here")
def test_backend_ipex_without_ipex_is_a_one_line_error(tiny_xbd, tmp_path):
    result = run_cli("train", "--data", str(tiny_xbd), "--out", str(tmp_path / "run"), "--backend", "ipex",
                     "--epochs", "1", "--samples", "8", "--tile", "64", "--width", "4", "--depth", "2")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ipex" in lines[0] and "make ipex-env" in lines[0], result.stderr


def test_bad_data_folder_is_a_one_line_error(tmp_path):
    result = run_cli("train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "does not exist" in result.stderr


@pytest.mark.ipex
def test_ipex_backend_trains_a_step(tiny_xbd, tmp_path):
    """Runs in .venv-ipex only (make test-ipex)."""
    pytest.importorskip("intel_extension_for_pytorch")
    cfg = TrainConfig(data=tiny_xbd, out=tmp_path / "run", epochs=1, samples=8, batch=4, tile=64, width=4,
                      depth=2, val_scenes=1, workers=0, quiet=True, backend="ipex")
    summary = train(cfg)
    assert summary["epochs_run"] == 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["backend"] == "ipex"
