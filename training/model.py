"""The damage U-Net: pre- and post-event tiles in, five classes per pixel out.

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


class Probabilities(nn.Module):
    """The model as exported: softmax over classes, so the IR emits probabilities."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over the class axis of the wrapped model's logits: `[N, C, T, T]`, summing to 1 per pixel."""
        return torch.softmax(self.model(x), dim=1)


def build(config: dict) -> UNet:
    """Rebuild a model from its recorded `config()` (checkpoints and manifests carry it)."""
    config = dict(config)
    arch = config.pop("arch", "unet")
    if arch != "unet":
        raise ValueError(f"unknown architecture {arch!r}")
    return UNet(**config)
