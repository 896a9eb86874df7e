"""The model zoo's architectures: shapes, the config round trip, the shared encoder, export to an IR."""

import numpy as np
import openvino as ov
import pytest
import torch

from tests.conftest import run_cli
from training.checkpoint import load_model
from training.export import export_ir
from training.model import ARCHS, Probabilities, ResNetUNet, UNet, build, model_config
from training.train import TrainConfig, train

# a narrow ResNet (stem width 8): the same graph as width 64, in milliseconds
NARROW = 8


@pytest.mark.parametrize("arch", ["resnet18-unet", "resnet34-unet"])
def test_reference_model_maps_raw_tiles_to_class_logits(arch):
    torch.manual_seed(0)
    model = build({"arch": arch, "width": NARROW}).eval()
    x = torch.randint(0, 256, (2, 6, 64, 64)).float()
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 5, 64, 64) and torch.isfinite(logits).all()
    assert model.config() == {"arch": arch, "width": NARROW}
    assert model.depth == 5                 # the tile must be a multiple of 32


def test_resnet_depths_and_default_width_are_torchvisions():
    def convs(arch):
        model = build({"arch": arch})
        return sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) for m in model.encoder.modules())

    # resnet18: 16 3x3 convolutions in its BasicBlocks; resnet34: 32 (the 7x7 stem is not 3x3)
    assert (convs("resnet18-unet"), convs("resnet34-unet")) == (16, 32)
    model = build({"arch": "resnet34-unet"})
    assert model.config()["width"] == 64 and model.encoder.channels == [64, 64, 128, 256, 512]


def test_pre_and_post_share_one_encoder_and_the_change_matters():
    torch.manual_seed(0)
    model = ResNetUNet("resnet18-unet", NARROW).eval()
    encoders = [m for m in model.modules() if m.__class__.__name__ == "ResNetEncoder"]
    assert len(encoders) == 1               # one set of weights for both images
    rng = np.random.default_rng(1)
    post = torch.from_numpy(rng.integers(0, 256, (1, 3, 64, 64))).float()
    same = torch.cat([post, post], dim=1)
    other = torch.cat([torch.full_like(post, 30.0), post], dim=1)
    with torch.no_grad():
        assert not torch.allclose(model(same), model(other))    # the pre image reaches the output


def test_a_batch_gives_each_tile_its_own_answer():
    torch.manual_seed(0)
    model = ResNetUNet("resnet18-unet", NARROW).eval()
    x = torch.randint(0, 256, (3, 6, 64, 64)).float()
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("config", [{"arch": "unet", "width": 4, "depth": 2},
                                    {"arch": "resnet18-unet", "width": NARROW},
                                    {"arch": "resnet34-unet", "width": 4}])
def test_config_round_trip(config):
    model = build(config)
    assert build(model.config()).config() == model.config() == config


def test_model_config_fills_each_archs_defaults():
    assert model_config("unet") == {"arch": "unet", "width": 16, "depth": 4}
    assert model_config("resnet18-unet", depth=7) == {"arch": "resnet18-unet", "width": 64}
    assert model_config("resnet34-unet", 16) == {"arch": "resnet34-unet", "width": 16}
    assert set(ARCHS) == {"unet", "resnet18-unet", "resnet34-unet"}
    with pytest.raises(ValueError, match="unknown architecture"):
        build({"arch": "vgg-unet"})
    with pytest.raises(ValueError, match="multiple of 4"):
        build({"arch": "resnet18-unet", "width": 6})
    assert isinstance(build({"width": 4, "depth": 2}), UNet)     # configs from before `arch` existed


def test_export_to_ir_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    model = ResNetUNet("resnet18-unet", NARROW).eval()
    manifest = export_ir(model, tmp_path / "ref", name="ref", tile=64, overlap=16)
    assert manifest.training["model"] == {"arch": "resnet18-unet", "width": NARROW}
    compiled = ov.Core().compile_model(str(manifest.ir("fp32")), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    x = np.random.default_rng(0).integers(0, 256, (1, 6, 64, 64), dtype=np.uint8)
    probs = compiled(x)[0]
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(x).float()), dim=1).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    # the same IR at another batch and tile: the bench reshapes it
    reshaped = ov.Core().read_model(manifest.ir("fp32"))
    reshaped.reshape([2, 6, 96, 96])
    out = ov.Core().compile_model(reshaped, "CPU")(np.zeros((2, 6, 96, 96), np.uint8))[0]
    assert out.shape == (2, 5, 96, 96)


def test_torch_export_graph_reshapes_to_other_batches_and_tiles():
    """INC's path converts a torch.export graph: its IR must still reshape, as the bench and daemon do."""
    torch.manual_seed(0)
    model = Probabilities(ResNetUNet("resnet18-unet", NARROW).eval())
    example = torch.rand(1, 6, 64, 64) * 255
    with torch.no_grad():
        ir = ov.convert_model(torch.export.export(model, (example,)), input=[(1, 6, 64, 64)])
    ir.reshape([2, 6, 96, 96])
    x = np.random.default_rng(0).integers(0, 256, (2, 6, 96, 96)).astype(np.float32)
    out = ov.Core().compile_model(ir, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, model(torch.from_numpy(x)).numpy(), atol=1e-4)


def test_train_and_resume_the_reference_arch(tiny_xbd, tmp_path):
    cfg = TrainConfig(data=tiny_xbd, out=tmp_path / "run", arch="resnet18-unet", width=NARROW, epochs=2, samples=8,
                      batch=4, tile=64, overlap=16, val_scenes=1, workers=0, quiet=True, command="test", seed=2,
                      amp="bf16", max_minutes=1e-9)
    assert train(cfg)["epochs_run"] == 1
    model, state = load_model(tmp_path / "run" / "last.pt")
    assert isinstance(model, ResNetUNet) and state["model_config"] == {"arch": "resnet18-unet", "width": NARROW}
    cfg.max_minutes, cfg.resume = None, True
    assert train(cfg)["epochs_run"] == 2
    cfg.arch = "resnet34-unet"
    with pytest.raises(Exception, match="resume"):     # a checkpoint of another arch is refused
        train(cfg)


def test_bad_arch_arguments_are_one_line_errors(tiny_xbd, tmp_path):
    result = run_cli("train", "--data", str(tiny_xbd), "--out", str(tmp_path / "run"), "--arch", "resnet18-unet",
                     "--tile", "48", "--width", "8")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "multiple of 2^depth = 32" in result.stderr
    result = run_cli("train", "--data", str(tiny_xbd), "--out", str(tmp_path / "run"), "--arch", "resnet18-unet",
                     "--width", "6")
    assert result.returncode == 2 and "multiple of 4" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
