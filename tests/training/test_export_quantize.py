"""Export and both INT8 quantizations of a tiny trained model; IRs load in OpenVINO; evaluate's PNGs
scored independently (sklearn) give the score evaluate prints."""

import json

import cv2
import numpy as np
import openvino as ov
import pytest
import torch

from onboard.manifest import Manifest
from tests.conftest import run_cli
from training.dataset import calibration_tiles, find_pairs, read_target
from training.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(tiny_xbd, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig(data=tiny_xbd, out=out, epochs=3, samples=48, batch=8, tile=64, overlap=16, width=8, depth=2,
                      lr=1e-2, val_scenes=2, workers=0, quiet=True, command="test", seed=1))
    return out / "last.pt"


@pytest.fixture(scope="module")
def model_dir(trained, tiny_xbd, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tiny"
    result = run_cli("export", "--checkpoint", str(trained), "--out", str(out), "--tune-on", str(tiny_xbd))
    assert result.returncode == 0, result.stderr
    return out


def _runs(xml, tile=64):
    compiled = ov.Core().compile_model(str(xml), "CPU")
    x = np.random.default_rng(0).integers(0, 256, (1, 6, tile, tile), dtype=np.uint8)
    probs = compiled(x)[0]
    assert probs.shape == (1, 5, tile, tile)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    return probs


def test_export_writes_fp32_and_fp16_with_static_u8_input(model_dir):
    manifest = Manifest.load(model_dir)
    assert set(manifest.precisions) == {"fp32", "fp16"}
    assert manifest.tile == 64 and manifest.overlap == 16 and manifest.training["seed"] == 1
    offsets = manifest.training["class_offsets"]
    assert len(offsets["offsets"]) == 5 and offsets["validation_score_after"] >= offsets["validation_score_before"]
    assert (model_dir / manifest.training["checkpoint"]).is_file()      # model.pt: what INC quantizes
    model = ov.Core().read_model(manifest.ir("fp32"))
    assert model.inputs[0].get_element_type() == ov.Type.u8
    assert list(model.inputs[0].get_shape()) == [1, 6, 64, 64]
    np.testing.assert_allclose(_runs(manifest.ir("fp32")), _runs(manifest.ir("fp16")), atol=2e-2)


@pytest.mark.parametrize("method", ["nncf", "inc"])
def test_quantize_writes_an_int8_ir_recorded_with_sha256(model_dir, tiny_xbd, method):
    result = run_cli("quantize", "--model", str(model_dir), "--method", method, "--data", str(tiny_xbd),
                     "--samples", "8")
    assert result.returncode == 0, result.stderr
    manifest = Manifest.load(model_dir)
    precision = f"int8-{method}"
    xml = manifest.ir(precision)                   # verifies the sha256
    assert xml.name == f"{precision}.xml"
    assert manifest.training["quantization"][precision]["calibration_split"] == "training"
    ir = ov.Core().read_model(xml)
    assert "FakeQuantize" in {op.get_type_name() for op in ir.get_ops()}
    assert ir.inputs[0].get_partial_shape() == ov.PartialShape(manifest.input.shape)    # static, as fp32.xml
    np.testing.assert_allclose(_runs(xml), _runs(manifest.ir("fp32")), atol=0.35)


def test_inc_ir_matches_the_inc_pytorch_model(trained, tiny_xbd):
    from training.checkpoint import load_model
    from training.quantize import inc_quantized_torch, inc_to_openvino

    calibration = calibration_tiles(find_pairs(tiny_xbd), 64, 8, seed=0)
    quantized = inc_quantized_torch(load_model(trained)[0], calibration, batch=1)
    ir = inc_to_openvino(quantized, 64, 1)
    assert ir.inputs[0].get_partial_shape().is_static          # a dynamic IR gets slower CPU kernels
    assert list(ir.inputs[0].get_shape()) == [1, 6, 64, 64] and ir.inputs[0].get_element_type() == ov.Type.u8
    compiled = ov.Core().compile_model(ir, "CPU")
    inputs = calibration_tiles(find_pairs(tiny_xbd), 64, 4, seed=7)
    for x in inputs:
        with torch.no_grad():
            expected = torch.softmax(quantized(torch.from_numpy(x[None]).float()), dim=1).numpy()
        got = compiled(x[None])[0]
        assert np.abs(got - expected).max() < 0.05
        assert (got.argmax(1) == expected.argmax(1)).mean() > 0.99


def test_inc_int8_of_the_siamese_model_keeps_its_shared_encoders_batchnorm(tiny_xbd):
    """The reference model's encoder runs twice; PT2E's own BatchNorm fold gave it zero shifts (class lost)."""
    from training.model import build
    from training.quantize import inc_quantized_torch

    torch.manual_seed(0)
    model = build({"arch": "resnet18-unet", "width": 8})
    calibration = calibration_tiles(find_pairs(tiny_xbd), 64, 8, seed=0)
    batches = torch.from_numpy(calibration).float()
    for module in model.modules():              # BatchNorm statistics of these tiles, as training leaves them
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    with torch.no_grad():
        model.train()
        model(batches)
        model.eval()
        expected = model(batches[:1])
        got = inc_quantized_torch(model, calibration, batch=1)(batches[:1])
    assert (got - expected).abs().mean() < 0.15 * expected.std()      # 0.09 with the fix, 0.5 without


def _independent_score(predictions, data):
    """The official metric re-implemented with sklearn over the PNG files and the targets."""
    from sklearn.metrics import f1_score
    loc_true, loc_pred, dmg_true, dmg_pred = [], [], [], []
    for pair in find_pairs(data):
        target = read_target(pair)
        loc = cv2.imread(str(predictions / f"test_localization_{pair.id}_prediction.png"), cv2.IMREAD_UNCHANGED)
        dmg = cv2.imread(str(predictions / f"test_damage_{pair.id}_prediction.png"), cv2.IMREAD_UNCHANGED)
        valid = target != 255
        loc_true.append(target[valid] > 0)
        loc_pred.append(loc[valid] > 0)
        building = valid & (target > 0)
        dmg_true.append(target[building])
        dmg_pred.append((dmg * (loc > 0))[building])
    loc_f1 = f1_score(np.concatenate(loc_true), np.concatenate(loc_pred))
    per_class = f1_score(np.concatenate(dmg_true), np.concatenate(dmg_pred), labels=[1, 2, 3, 4], average=None,
                         zero_division=0)
    damage_f1 = 4 / sum(1 / (f + 1e-6) for f in per_class)
    return 0.3 * loc_f1 + 0.7 * damage_f1, per_class


@pytest.mark.parametrize("which", ["ir", "checkpoint"])
def test_evaluate_predictions_score_independently_to_the_same_number(which, model_dir, trained, tiny_xbd,
                                                                      tmp_path):
    model = model_dir if which == "ir" else trained
    predictions = tmp_path / "pred"
    result = run_cli("evaluate", "--model", str(model), "--data", str(tiny_xbd), "--predictions", str(predictions),
                     "--quiet")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert len(list(predictions.glob("test_damage_*_prediction.png"))) == len(find_pairs(tiny_xbd))
    score, per_class = _independent_score(predictions, tiny_xbd)
    assert printed["score"] == pytest.approx(score, abs=1e-9)
    assert list(printed["damage_f1_per_class"].values()) == pytest.approx(list(per_class), abs=1e-9)
    assert printed["localization_f1"] > 0                  # the tiny model learned something to compare


def test_evaluate_records_scores_in_the_manifest(model_dir, tiny_xbd):
    result = run_cli("evaluate", "--model", str(model_dir), "--data", str(tiny_xbd), "--precision", "fp16",
                     "--record", "--quiet")
    assert result.returncode == 0, result.stderr
    scores = Manifest.load(model_dir).precisions["fp16"].scores
    assert scores["score"] == pytest.approx(json.loads(result.stdout)["score"])


def test_evaluate_unknown_model_is_a_one_line_error(tiny_xbd, tmp_path):
    result = run_cli("evaluate", "--model", str(tmp_path / "nope"), "--data", str(tiny_xbd))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
