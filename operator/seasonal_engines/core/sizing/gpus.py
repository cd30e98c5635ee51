"""GPU facts: memory, compute capability (SM), FP8 support and the node label value, per preset.

Memory is the total ``nvidia-smi`` reports (MiB x 2^20), which is what the runtime's free-memory
arithmetic starts from. Bandwidth and dense BF16 throughput are datasheet figures, used only by the
clearly labelled latency estimate. Pure data and lookups: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seasonal_engines.core.sizing.errors import UnknownPreset

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class GpuFacts:
    """One GPU model. ``product`` is the ``nvidia.com/gpu.product`` node-label value."""

    name: str
    product: str
    memory_bytes: int
    sm: str                          # compute capability, "9.0": engines only load on the SM they were built on
    fp8: bool                        # FP8 tensor cores (SM 8.9 and newer)
    memory_bandwidth_bytes_per_s: float
    bf16_dense_flops: float

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / GIB

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "product": self.product, "sm": self.sm, "memory_bytes": self.memory_bytes,
                "fp8": self.fp8, "memory_bandwidth_bytes_per_s": self.memory_bandwidth_bytes_per_s,
                "bf16_dense_flops": self.bf16_dense_flops}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GpuFacts:
        return cls(name=d.get("name", d["product"]), product=d["product"], memory_bytes=int(d["memory_bytes"]),
                   sm=str(d["sm"]), fp8=bool(d.get("fp8", sm_has_fp8(str(d["sm"])))),
                   memory_bandwidth_bytes_per_s=float(d.get("memory_bandwidth_bytes_per_s", 1e12)),
                   bf16_dense_flops=float(d.get("bf16_dense_flops", 1e14)))


def sm_has_fp8(sm: str) -> bool:
    """FP8 tensor cores arrived with Ada (8.9) and Hopper (9.0)."""
    major, minor = (int(x) for x in sm.split("."))
    return (major, minor) >= (8, 9)


PRESETS: dict[str, GpuFacts] = {
    "h100-sxm-80gb": GpuFacts("h100-sxm-80gb", "NVIDIA-H100-80GB-HBM3", 81559 * MIB, "9.0", True, 3.35e12, 989e12),
    "h200-141gb": GpuFacts("h200-141gb", "NVIDIA-H200", 143771 * MIB, "9.0", True, 4.8e12, 989e12),
    "a100-sxm-80gb": GpuFacts("a100-sxm-80gb", "NVIDIA-A100-SXM4-80GB", 81920 * MIB, "8.0", False, 2.039e12,
                              312e12),
    "l40s-48gb": GpuFacts("l40s-48gb", "NVIDIA-L40S", 46068 * MIB, "8.9", True, 0.864e12, 362e12),
    "l4-24gb": GpuFacts("l4-24gb", "NVIDIA-L4", 23034 * MIB, "8.9", True, 0.3e12, 121e12),
}

# Short names people type.
_ALIASES = {"h100": "h100-sxm-80gb", "h100-80gb": "h100-sxm-80gb", "h200": "h200-141gb", "a100": "a100-sxm-80gb",
            "a100-80gb": "a100-sxm-80gb", "l40s": "l40s-48gb", "l4": "l4-24gb"}


# GPU-to-GPU bandwidth per direction, bytes/s (datasheets: NVLink 900 GB/s for H100/H200 SXM and 600 GB/s for
# A100 SXM, both directions together; L40S and L4 have no NVLink: PCIe Gen4 x16, 64 GB/s both directions).
# Used only by the serving model's tensor-parallel all-reduce term.
INTERCONNECT_BYTES_PER_S: dict[str, float] = {
    "h100-sxm-80gb": 450e9, "h200-141gb": 450e9, "a100-sxm-80gb": 300e9, "l40s-48gb": 32e9, "l4-24gb": 32e9,
}


def interconnect_bytes_per_s(gpu: GpuFacts) -> float:
    """Per-direction GPU interconnect bandwidth of ``gpu``; PCIe Gen4 for GPUs without a figure."""
    return INTERCONNECT_BYTES_PER_S.get(gpu.name, 32e9)


def preset(name: str) -> GpuFacts:
    """A GPU by preset name, alias (``h100``) or node-label value (``NVIDIA-H100-80GB-HBM3``)."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in PRESETS:
        return PRESETS[key]
    for gpu in PRESETS.values():
        if gpu.product.lower() == key:
            return gpu
    raise UnknownPreset(f"unknown GPU {name!r}: use one of {', '.join(PRESETS)} (or a product label such as "
                        f"{PRESETS['h100-sxm-80gb'].product}); for other GPUs set hardware.memoryGiB and "
                        "hardware.computeCapability")


def from_hardware(hw: Any) -> GpuFacts:
    """GpuFacts for ``spec.hardware`` (an ``api.spec.HardwareSpec``): the preset with its label, overridden by
    explicit memory and compute capability; both are required for GPUs without a preset."""
    try:
        base: GpuFacts | None = preset(hw.gpu_product)
    except UnknownPreset:
        base = None
    if base is None and (hw.memory_gi_b is None or hw.compute_capability is None):
        raise UnknownPreset(f"hardware.gpuProduct {hw.gpu_product!r} has no preset: set hardware.memoryGiB and "
                            f"hardware.computeCapability, or use one of "
                            f"{', '.join(g.product for g in PRESETS.values())}")
    sm = hw.compute_capability or (base.sm if base else "")
    memory = int(hw.memory_gi_b * GIB) if hw.memory_gi_b is not None else (base.memory_bytes if base else 0)
    return GpuFacts(
        name=base.name if base else hw.gpu_product.lower(), product=hw.gpu_product, memory_bytes=memory, sm=sm,
        fp8=sm_has_fp8(sm),
        memory_bandwidth_bytes_per_s=base.memory_bandwidth_bytes_per_s if base else 1e12,
        bf16_dense_flops=base.bf16_dense_flops if base else 1e14,
    )


__all__ = ["GpuFacts", "PRESETS", "preset", "from_hardware", "sm_has_fp8", "GIB", "MIB",
           "INTERCONNECT_BYTES_PER_S", "interconnect_bytes_per_s"]
