"""Dataset: pairing, event split, target reading, identical augmentation, oversampling."""

import json

import numpy as np
import pytest
import torch

from satedge.errors import UserError
from training.dataset import (
    CropDataset,
    SceneCache,
    augment,
    calibration_tiles,
    class_weights,
    find_pairs,
    read_target,
    split_by_event,
)
from training.losses import DamageLoss
from training.metric import IGNORE


def test_pairs_by_stem_and_event(tiny_xbd):
    pairs = find_pairs(tiny_xbd)
    assert [p.id for p in pairs][:2] == ["fire-b_00000000", "fire-b_00000001"]
    assert {p.event for p in pairs} == {"flood-a", "fire-b", "quake-c"}
    assert all(p.pre.name == f"{p.id}_pre_disaster.png" for p in pairs)
    # a folder of splits works too
    assert len(find_pairs(tiny_xbd.parent)) == len(pairs)


def test_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError):
        find_pairs(tmp_path / "nope")
    with pytest.raises(UserError):
        find_pairs(tmp_path)


def test_split_is_by_event(tiny_xbd):
    pairs = find_pairs(tiny_xbd)
    for seed in range(5):
        train, val = split_by_event(pairs, 0.34, seed)
        assert val and train
        assert not {p.event for p in train} & {p.event for p in val}
        assert len(train) + len(val) == len(pairs)
    assert split_by_event(pairs, 0.34, 3) == split_by_event(pairs, 0.34, 3)


def test_target_unclassified_and_stray_values_become_ignore(tiny_xbd):
    pair = find_pairs(tiny_xbd)[0]
    target = read_target(pair)
    assert target.dtype == np.uint8
    assert target[-1, -1] == IGNORE                  # stray 7
    assert (target[2:10, 2:10] == IGNORE).all()      # un-classified polygon
    assert set(np.unique(target)) <= {0, 1, 2, 3, 4, IGNORE}
    label = json.loads(pair.label.read_text())
    assert label["features"]["xy"][-1]["properties"]["subtype"] == "un-classified"


def test_augment_moves_pre_post_and_target_together():
    rng = np.random.default_rng(1)
    window = rng.integers(0, 5, (16, 16, 1), dtype=np.uint8).repeat(7, axis=2)
    for k in range(10):
        out = augment(window, np.random.default_rng(k), photometric=0.0)
        assert (out[..., 0] == out[..., 6]).all() and (out[..., 3] == out[..., 6]).all()


def test_crops_are_deterministic_and_oversample_damage(tiny_xbd, tmp_path):
    train, _ = split_by_event(find_pairs(tiny_xbd), 0.34, 0)
    cache = SceneCache(train, tmp_path / "cache")
    ds = CropDataset(cache, tile=32, samples=64, seed=0, oversample=1.0)
    x, y = ds[3]
    assert x.shape == (6, 32, 32) and x.dtype == torch.float32 and y.shape == (32, 32)
    assert torch.equal(ds[3][1], y)
    damaged = sum(int(((ds[i][1] >= 2) & (ds[i][1] <= 4)).any()) for i in range(32))
    assert damaged == 32
    weights = class_weights(cache.class_frequencies())
    assert weights[1] == 1.0 and weights[0] < 1.0


def test_some_crops_lose_their_pre_image_as_onboard(tiny_xbd, tmp_path):
    """`pre_missing`: the pre bands are the satellite's no-view fill, wholly or on one side of a line; the
    post bands and the target are untouched."""
    from onboard.ingest import NO_PRE_FILL
    train, _ = split_by_event(find_pairs(tiny_xbd), 0.34, 0)
    cache = SceneCache(train, tmp_path / "cache")
    plain = CropDataset(cache, tile=32, samples=64, seed=0, augmented=False)
    blanked = CropDataset(cache, tile=32, samples=64, seed=0, augmented=False, pre_missing=1.0)
    shares = []
    for i in range(40):
        (x, y), (bx, by) = plain[i], blanked[i]
        assert torch.equal(y, by) and torch.equal(x[3:], bx[3:])
        missing = (bx[:3] == NO_PRE_FILL).all(dim=0)
        assert torch.equal(bx[:3][:, ~missing], x[:3][:, ~missing])
        shares.append(float(missing.float().mean()))
    assert any(s == 1.0 for s in shares) and any(0.05 < s < 0.95 for s in shares)


def test_rescaled_crops_keep_the_tile_size_and_the_target_classes(tiny_xbd, tmp_path):
    train, _ = split_by_event(find_pairs(tiny_xbd), 0.34, 0)
    cache = SceneCache(train, tmp_path / "cache")
    ds = CropDataset(cache, tile=32, samples=64, seed=0, rescale=1.5)
    for i in range(20):
        x, y = ds[i]
        assert x.shape == (6, 32, 32) and y.shape == (32, 32)
        assert set(y.unique().tolist()) <= {0, 1, 2, 3, 4, IGNORE}     # nearest neighbour: no blended classes


def test_the_no_view_line_takes_the_share_asked_for():
    from training.coverage import no_view_mask, without_view
    for share in (0.1, 0.5, 0.9):
        mask = no_view_mask(64, 64, np.random.default_rng(3), share)
        assert abs(mask.mean() - share) < 0.03
    pre = np.full((64, 64, 3), 7, np.uint8)
    same_a, mask_a = without_view("flood-1_00000001", pre, "half")
    same_b, mask_b = without_view("flood-1_00000001", pre, "half")
    assert np.array_equal(mask_a, mask_b) and abs(mask_a.mean() - 0.5) < 0.03 and (pre == 7).all()
    assert without_view("x", pre, "full") == (pre, None)


def test_calibration_tiles_are_u8_tiles(tiny_xbd):
    tiles = calibration_tiles(find_pairs(tiny_xbd), 64, 5, seed=0)
    assert tiles.shape == (5, 6, 64, 64) and tiles.dtype == np.uint8


@pytest.mark.parametrize("region", ["dice", "focal", "none"])
def test_loss_ignores_ignore_pixels(region):
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 8, 8)
    target = torch.randint(0, 5, (2, 8, 8))
    loss = DamageLoss([0.5, 1, 2, 2, 2], region)
    base = loss(logits, target)
    noisy = target.clone()
    noisy[:, :2] = IGNORE
    changed_logits = logits.clone()
    changed_logits[:, :, :2] = 100 * torch.randn(2, 5, 2, 8)
    assert torch.isfinite(base)
    assert loss(changed_logits, noisy) == pytest.approx(loss(logits, noisy).item(), rel=1e-5)


def test_duplicate_stems_across_splits_are_a_user_error(tmp_path):
    from tests.training.conftest import write_xbd
    write_xbd(tmp_path / "a", {"flood-a": 1}, size=32)
    write_xbd(tmp_path / "b", {"flood-a": 1}, size=32)
    with pytest.raises(UserError, match="appears twice"):
        find_pairs(tmp_path)
