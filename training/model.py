"""The damage models: pre- and post-event tiles in, five classes per pixel out.

Two architectures, chosen by the config's `arch`: `unet`, the small plain
U-Net, and `resnet18-unet` / `resnet34-unet`, the reference class of the
xView2 winners (a ResNet encoder shared by the pre and the post image, a
U-Net decoder over the fused features), trained from scratch here.

Input is `[N, 6, T, T]`, raw 0..255 values, pre RGB then post RGB; the model
normalises internally (fixed mean/std buffers), so the exported IR takes the
same raw pixels the satellite reads and cannot be fed differently from
training. `forward` returns logits; `Probabilities` wraps the model with the
softmax the IR carries (onboard/manifest.py).
"""

from __future__ import annotations

import torch
from torch import nn

NUM_CLASSES = 5
IN_CHANNELS = 6
# Per-channel statistics on the 0..255 scale; generic RGB values (no data-set
# statistics are needed for a model trained from scratch with BatchNorm).
MEAN = (110.0, 110.0, 100.0, 110.0, 110.0, 100.0)
STD = (55.0, 50.0, 50.0, 55.0, 50.0, 50.0)


def conv_block(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 convolutions with BatchNorm and ReLU, padded so height and width are kept."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A U-Net of `depth` levels whose first level has `width` channels (doubling per level)."""

    def __init__(self, width: int = 16, depth: int = 4, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.width, self.depth = width, depth
        self.register_buffer("mean", torch.tensor(MEAN).view(1, IN_CHANNELS, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, IN_CHANNELS, 1, 1))
        chans = [width * 2 ** i for i in range(depth)]
        self.down = nn.ModuleList()
        cin = IN_CHANNELS
        for c in chans:
            self.down.append(conv_block(cin, c))
            cin = c
        self.bottom = conv_block(chans[-1], chans[-1] * 2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        cin = chans[-1] * 2
        for c in reversed(chans):
            self.up.append(nn.ConvTranspose2d(cin, c, 2, stride=2))
            self.merge.append(conv_block(2 * c, c))
            cin = c
        self.head = nn.Conv2d(chans[0], num_classes, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits `[N, num_classes, T, T]` from raw 0..255 `[N, 6, T, T]`; T must be a multiple of 2^depth."""
        x = (x - self.mean) / self.std
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)

    def config(self) -> dict:
        """What `build()` needs to make this model again; checkpoints and manifests store it."""
        return {"arch": "unet", "width": self.width, "depth": self.depth}


# ResNet stage depths (BasicBlocks per stage), as torchvision's resnet18/resnet34 (not a dependency: no weights).
RESNET_BLOCKS = {"resnet18-unet": (2, 2, 2, 2), "resnet34-unet": (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """The ResNet-18/34 residual block: two 3x3 convolutions, a 1x1 projection where the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(body(x) + shortcut(x))."""
        return self.relu(self.body(x) + self.shortcut(x))


class ResNetEncoder(nn.Module):
    """A ResNet stem (7x7/2 conv, 3x3/2 max-pool) and four stages of BasicBlocks on one RGB image.

    Returns the features at strides 2, 4, 8, 16, 32 with `width` x (1, 1, 2, 4, 8) channels.
    """

    def __init__(self, blocks: tuple[int, ...], width: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.stages = nn.ModuleList()
        cin = width
        for i, count in enumerate(blocks):
            cout = width * 2 ** i
            stride = 1 if i == 0 else 2
            self.stages.append(nn.Sequential(*[BasicBlock(cin if k == 0 else cout, cout, stride if k == 0 else 1)
                                               for k in range(count)]))
            cin = cout
        self.channels = [width] + [width * 2 ** i for i in range(len(blocks))]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps from stride 2 to stride 32."""
        x = self.stem(x)
        features = [x]
        x = self.pool(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class ResNetUNet(nn.Module):
    """The reference model: pre and post through one shared (siamese) ResNet encoder, fused per level, U-Net decoder.

    Both images go through the same encoder (one set of weights, learnt from both). At each of the five levels
    the post features and the post-minus-pre change are concatenated and mixed by a 1x1 convolution; the
    decoder upsamples (nearest, x2) and merges each level's fused features back to full resolution, where a
    1x1 head gives the class logits. `width` is the stem's channels (64 = the ResNet).
    """

    depth = 5        # the encoder halves the tile five times: T must be a multiple of 32

    def __init__(self, arch: str = "resnet34-unet", width: int = 64, num_classes: int = NUM_CLASSES):
        super().__init__()
        if arch not in RESNET_BLOCKS:
            raise ValueError(f"unknown architecture {arch!r}")
        if width < 4 or width % 4:
            raise ValueError(f"width {width} must be a positive multiple of 4")
        self.arch, self.width = arch, width
        self.register_buffer("mean", torch.tensor(MEAN).view(1, IN_CHANNELS, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, IN_CHANNELS, 1, 1))
        self.encoder = ResNetEncoder(RESNET_BLOCKS[arch], width)
        levels = self.encoder.channels                       # strides 2, 4, 8, 16, 32
        self.fuse = nn.ModuleList(nn.Sequential(nn.Conv2d(2 * c, c, 1, bias=False), nn.BatchNorm2d(c),
                                                nn.ReLU(inplace=True)) for c in levels)
        decoder = [width * 4, width * 2, width, width // 2, width // 4]   # after strides 16, 8, 4, 2, 1
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.merge = nn.ModuleList()
        cin = levels[-1]
        for i, cout in enumerate(decoder):
            skip = levels[-2 - i] if i < len(levels) - 1 else 0
            self.merge.append(conv_block(cin + skip, cout))
            cin = cout
        self.head = nn.Conv2d(decoder[-1], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits `[N, num_classes, T, T]` from raw 0..255 `[N, 6, T, T]`; T must be a multiple of 32."""
        x = (x - self.mean) / self.std
        # two calls of one encoder, not one call on a batch of 2N: a graph that splits its batch in halves is
        # exported by torch.export (INC's path) with fixed split sizes, and its IR could not be reshaped
        fused = [fuse(torch.cat([post, post - pre], dim=1))
                 for fuse, pre, post in zip(self.fuse, self.encoder(x[:, :3]), self.encoder(x[:, 3:]))]
        x = fused[-1]
        for i, merge in enumerate(self.merge):
            x = self.up(x)
            x = merge(torch.cat([x, fused[-2 - i]], dim=1) if i < len(fused) - 1 else x)
        return self.head(x)

    def config(self) -> dict:
        """What `build()` needs to make this model again; checkpoints and manifests store it."""
        return {"arch": self.arch, "width": self.width}


ARCHS = ("unet", *RESNET_BLOCKS)


def model_config(arch: str, width: int | None = None, depth: int | None = None) -> dict:
    """The `config()` of the model a run asks for: `satedge train --arch/--width/--depth`, None = the arch's default.

    Only the plain U-Net has a depth; the ResNet encoders have five levels by construction.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r} (have: {', '.join(ARCHS)})")
    config: dict = {"arch": arch}
    if width is not None:
        config["width"] = width
    if arch == "unet" and depth is not None:
        config["depth"] = depth
    return build(config).config()


class Probabilities(nn.Module):
    """The model as exported: softmax over classes, so the IR emits probabilities."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over the class axis of the wrapped model's logits: `[N, C, T, T]`, summing to 1 per pixel."""
        return torch.softmax(self.model(x), dim=1)


def build(config: dict) -> UNet | ResNetUNet:
    """Rebuild a model from its recorded `config()` (checkpoints and manifests carry it)."""
    config = dict(config)
    arch = config.pop("arch", "unet")
    if arch == "unet":
        return UNet(**config)
    if arch in RESNET_BLOCKS:
        return ResNetUNet(arch, **config)
    raise ValueError(f"unknown architecture {arch!r} (have: {', '.join(ARCHS)})")
