"""What a compiled model really executes: each matrix layer's kernel precision, weighted by its FLOPs.

The IR's name says what was asked for (an "INT8" IR), not what runs: the CPU
plugin picks a kernel per layer (int8, bf16, f16 or f32) from the layer's
quantization, the inference-precision hint and the instructions the CPU has.
`compiled.get_runtime_model()` records that choice per executed node
(`primitiveType`, e.g. `brgconv_avx512_I8`, and `runtimePrecision`), with the
node's input and output shapes, so the FLOPs each precision carries are
counted here rather than assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MATRIX_LAYERS = ("Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul")
BYTES_PER_ELEMENT = {"int8": 1, "bf16": 2, "f16": 2, "f32": 4}
# the last word of a CPU plugin kernel name -> the precision it computes in
KERNEL_SUFFIX = {"i8": "int8", "u8": "int8", "int8": "int8", "bf16": "bf16", "f16": "f16", "fp16": "f16",
                 "f32": "f32", "fp32": "f32"}
RUNTIME_PRECISION = {"u8": "int8", "i8": "int8", "bf16": "bf16", "f16": "f16", "f32": "f32"}


@dataclass
class Executed:
    """Per executed precision: FLOPs per call, and the bytes the matrix layers read and write per call."""

    flops: dict[str, float] = field(default_factory=dict)
    layers: dict[str, int] = field(default_factory=dict)
    bytes_moved: float = 0.0
    kernels: dict[str, int] = field(default_factory=dict)

    @property
    def total_flops(self) -> float:
        """FLOPs of every matrix layer per call (2 per multiply-accumulate)."""
        return sum(self.flops.values())

    def shares(self) -> dict[str, float]:
        """Each precision's share of the matrix-layer FLOPs, largest first."""
        total = self.total_flops or 1.0
        return dict(sorted(((p, f / total) for p, f in self.flops.items()), key=lambda item: -item[1]))

    def dominant(self) -> str | None:
        """The precision that carries most of the FLOPs."""
        return next(iter(self.shares()), None)

    def intensity(self) -> float | None:
        """FLOPs per byte moved, each layer's tensors read or written once (no reuse between layers)."""
        return self.total_flops / self.bytes_moved if self.bytes_moved else None

    def describe(self) -> dict:
        """For results.json: GFLOP per call, shares, layer and kernel counts, arithmetic intensity."""
        intensity = self.intensity()
        return {"gflop_per_call": round(self.total_flops / 1e9, 4),
                "shares": {p: round(s, 4) for p, s in self.shares().items()}, "layers": self.layers,
                "kernels": self.kernels, "mb_moved_per_call": round(self.bytes_moved / 2 ** 20, 3),
                "flop_per_byte": None if intensity is None else round(intensity, 2)}


def kernel_precision(primitive: str, runtime_precision: str) -> str:
    """`brgconv_avx512_amx_bf16` -> bf16, `brgconv_avx512_I8` -> int8; the node's runtime precision otherwise."""
    suffix = primitive.rsplit("_", 1)[-1].lower()
    if suffix in KERNEL_SUFFIX:
        return KERNEL_SUFFIX[suffix]
    return RUNTIME_PRECISION.get(runtime_precision.lower(), runtime_precision.lower() or "unknown")


def multiply_accumulates(layer: str, inputs: list[list[int]], output: list[int]) -> int:
    """MACs of one matrix layer from its data, weight and output shapes (OpenVINO's layouts)."""
    data, weights = inputs[0], inputs[1]
    grouped = len(weights) == len(data) + 1          # [G, Cout/G, Cin/G, k...] or, deconvolution, [G, Cin/G, ...]
    kernel = math.prod(weights[2 if grouped else 1:])
    if layer == "Deconvolution":                     # every input element scatters into Cout/G × k... outputs
        return math.prod(data) * kernel
    if layer in ("FullyConnected", "MatMul"):        # out = M×N, in0 = M×K whatever the transposes
        return math.prod(output) * (math.prod(data) // max(math.prod(output[:-1]), 1))
    return math.prod(output) * kernel                # every output sums Cin/G × k... products


def _shape(port) -> list[int] | None:
    shape = port.get_partial_shape()
    return None if shape.is_dynamic else [int(d) for d in shape.to_shape()]


def _rt(op, key: str) -> str:
    info = op.get_rt_info()
    return info[key].astype(str) if key in info else ""


def analyse(compiled) -> Executed:
    """Walk the compiled model's runtime graph and count FLOPs and bytes per executed precision."""
    result = Executed()
    for op in compiled.get_runtime_model().get_ordered_ops():
        layer = _rt(op, "layerType")
        if layer not in MATRIX_LAYERS or op.get_input_size() < 2:
            continue
        inputs = [_shape(op.input(i).get_source_output()) for i in range(2)]
        output = _shape(op.output(0))
        if output is None or any(s is None for s in inputs):
            continue
        primitive = _rt(op, "primitiveType")
        precision = kernel_precision(primitive, _rt(op, "runtimePrecision"))
        flops = 2.0 * multiply_accumulates(layer, inputs, output)   # type: ignore[arg-type]
        result.flops[precision] = result.flops.get(precision, 0.0) + flops
        result.layers[precision] = result.layers.get(precision, 0) + 1
        result.kernels[primitive] = result.kernels.get(primitive, 0) + 1
        size = BYTES_PER_ELEMENT.get(precision, 4)
        result.bytes_moved += size * (sum(math.prod(s) for s in inputs) + math.prod(output))  # type: ignore[arg-type]
    return result
