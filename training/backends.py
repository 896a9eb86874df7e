"""Training backends (a registry): stock PyTorch, or Intel Extension for PyTorch.

A backend prepares the model and optimizer and says which autocast dtype the
forward pass runs in. IPEX is optional and lives in its own venv (`make
ipex-env`: IPEX 2.8 imports only with torch 2.8); asking for it where it is
not importable is a user error, said in one line.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from satedge.errors import UserError

AMP_DTYPES: dict[str, torch.dtype | None] = {"none": None, "bf16": torch.bfloat16}


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), so autocast pays off."""
    flags = _cpuinfo()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def ipex_bf16_default() -> bool:
    """IPEX's BF16 kernels target Intel CPUs. On this project's AMD EPYC (AVX512-BF16), IPEX 2.8 BF16
    training ran 3.7x slower than stock BF16 (width 8, 256²) and failed in oneDNN on a tiny model ("could
    not create a primitive descriptor"), so BF16 is its default on Intel CPUs with BF16 only; `--amp bf16`
    still asks for it anywhere."""
    return cpu_has_bf16() and "GenuineIntel" in _cpuinfo()


class StockBackend:
    """Plain PyTorch, optionally under CPU autocast (`amp`: none or bf16)."""

    name = "stock"

    def __init__(self, amp: str | None):
        self.amp = amp or "none"

    def prepare(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer):
        """(model, optimizer) ready to train; stock PyTorch returns them unchanged."""
        return model, optimizer

    def autocast(self):
        """The context the forward pass runs in: CPU autocast to the `amp` dtype, or a no-op for none."""
        dtype = AMP_DTYPES[self.amp]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=dtype)

    def describe(self) -> dict:
        """What ran, for run.json and the speed table: backend, amp and torch version."""
        return {"backend": self.name, "amp": self.amp, "torch": torch.__version__}


class IpexBackend(StockBackend):
    """`ipex.optimize` of model and optimizer; BF16 by default on Intel CPUs that have it."""

    name = "ipex"

    def __init__(self, amp: str | None):
        try:
            import intel_extension_for_pytorch as ipex
        except Exception as exc:  # ImportError, or IPEX refusing a torch it was not built for
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"--backend ipex: Intel Extension for PyTorch is not importable here ({reason}); "
                            "build it with `make ipex-env` and run .venv-ipex/bin/satedge") from None
        self.ipex = ipex
        super().__init__(amp if amp is not None else ("bf16" if ipex_bf16_default() else "none"))

    def prepare(self, model, optimizer):
        """`ipex.optimize` of both, in the `amp` dtype (float32 when amp is none)."""
        dtype = AMP_DTYPES[self.amp] or torch.float32
        return self.ipex.optimize(model, optimizer=optimizer, dtype=dtype)

    def describe(self) -> dict:
        """The stock description plus the IPEX version."""
        return dict(super().describe(), ipex=self.ipex.__version__)


BACKENDS = {"stock": StockBackend, "ipex": IpexBackend}
