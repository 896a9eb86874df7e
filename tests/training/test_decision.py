"""Decision offsets: fitted on validation pixels, they fix a class the model is shy of."""

import numpy as np
import torch

from training.decision import fit_offsets, fold_into_head, weighted_score
from training.model import UNet


def test_offsets_recover_a_shy_class():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 5, 4000)
    logits = rng.normal(0, 0.3, (4000, 5))
    logits[np.arange(4000), target] += 1.0
    logits[target == 2, 2] -= 1.2            # minor damage is systematically under-called
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    weight = np.ones(4000)
    offsets, before, after = fit_offsets(logp, target, weight)
    assert offsets[0] == 0 and offsets[2] >= 0.5
    assert after > before + 0.05
    assert weighted_score(logp, target, weight, offsets) == after


def test_folded_offsets_shift_the_model_output():
    torch.manual_seed(0)
    model = UNet(width=4, depth=2).eval()
    x = torch.rand(1, 6, 32, 32) * 255
    with torch.no_grad():
        before = model(x)
        fold_into_head(model, np.array([0, 0, 2.0, 0, 0]))
        after = model(x)
    torch.testing.assert_close(after - before, torch.tensor([0, 0, 2.0, 0, 0]).view(1, 5, 1, 1).expand_as(after))
