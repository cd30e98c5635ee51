"""The checkpoint step before ``trtllm-build``: which TensorRT-LLM script converts the Hugging Face weights.

Unquantized and weight-only builds go through the model family's ``convert_checkpoint.py``; FP8, AWQ,
SmoothQuant, NVFP4 and an FP8 KV cache over unquantized weights go through ModelOpt's
``examples/quantization/quantize.py`` (the only path for AWQ, and the one that calibrates). Models of an
unknown family also take quantize.py (``--qformat full_prec``), which reads any supported HF model.
``args`` holds flag name -> value (True: a bare flag) and leaves out the directories, which the build job
owns. Each family's converter has its own flags (``FAMILIES``, read from
``examples/models/core/<family>/convert_checkpoint.py`` of TensorRT-LLM 1.2): gemma's takes ``--ckpt-type``
and ``--world-size`` instead of ``--tp_size``/``--pp_size``, phi's has no KV-cache flags, qwen's no FP8 KV
cache; where a converter lacks a flag the plan needs, quantize.py does the step. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seasonal_engines.core.sizing.errors import InvalidParallelism
from seasonal_engines.core.sizing.models import ModelFacts

CONVERT = "convert"
QUANTIZE = "quantize"
QUANTIZE_SCRIPT = "examples/quantization/quantize.py"
CALIBRATION_SAMPLES = 512  # quantize.py's default --calib_size

_WEIGHT_ONLY = {"int8_wo": "int8", "int4_wo": "int4"}


@dataclass(frozen=True)
class ConverterFlags:
    """What one family's convert_checkpoint.py accepts."""

    kv_caches: frozenset[str]          # KV-cache formats it has a flag for
    pipeline_parallel: bool = True     # --pp_size greater than 1 works
    world_size_flag: bool = False      # --world-size (TP only) instead of --tp_size/--pp_size
    extra: Mapping[str, Any] = field(default_factory=dict)


FAMILIES: dict[str, ConverterFlags] = {
    "llama": ConverterFlags(kv_caches=frozenset({"int8", "fp8"})),
    "gemma": ConverterFlags(kv_caches=frozenset({"int8", "fp8"}), pipeline_parallel=False, world_size_flag=True,
                            extra={"ckpt-type": "hf"}),
    "phi": ConverterFlags(kv_caches=frozenset(), pipeline_parallel=False),
    "qwen": ConverterFlags(kv_caches=frozenset({"int8"})),
}
_MODELOPT_FORMATS = frozenset({"fp8", "int4_awq", "w4a8_awq", "int8_sq", "nvfp4"})


@dataclass(frozen=True)
class CheckpointStep:
    method: str                     # "convert" or "quantize"
    script: str                     # path inside the TensorRT-LLM examples of the image
    args: Mapping[str, Any] = field(default_factory=dict)

    def argv(self) -> list[str]:
        """Command-line flags (directories excluded), in a stable order."""
        out: list[str] = []
        for key in sorted(self.args):
            value = self.args[key]
            if value is True:
                out.append(f"--{key}")
            elif value is not False and value is not None:
                out.extend([f"--{key}", str(value)])
        return out

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "script": self.script, "args": dict(self.args)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckpointStep:
        return cls(method=d["method"], script=d["script"], args=dict(d.get("args", {})))


def convert_script(family: str) -> str:
    return f"examples/models/core/{family}/convert_checkpoint.py"


def checkpoint_step(model: ModelFacts, *, dtype: str, weights_quant: str, kv_quant: str, tp: int,
                    pp: int) -> CheckpointStep:
    """The conversion or quantization that produces the TensorRT-LLM checkpoint for this build."""
    family = FAMILIES.get(model.family)
    if family is not None and pp > 1 and not family.pipeline_parallel:
        raise InvalidParallelism(f"{model.family}'s convert_checkpoint.py has no pipeline parallelism: set "
                                 "spec.model.pipelineParallelSize to 1 and use tensor parallelism")
    if family is None or _needs_modelopt(family, weights_quant, kv_quant):
        return CheckpointStep(QUANTIZE, QUANTIZE_SCRIPT, _quantize_args(dtype, weights_quant, kv_quant, tp, pp))
    return CheckpointStep(CONVERT, convert_script(model.family),
                          _convert_args(family, model, dtype, weights_quant, kv_quant, tp, pp))


def _needs_modelopt(family: ConverterFlags, weights_quant: str, kv_quant: str) -> bool:
    """Whether quantize.py does the step for a known family: formats only ModelOpt produces (it calibrates), an
    FP8 KV cache over unquantized weights, or a KV-cache format the family's converter has no flag for."""
    converter_lacks_kv = kv_quant != "auto" and kv_quant not in family.kv_caches
    return (weights_quant in _MODELOPT_FORMATS or (weights_quant == "none" and kv_quant == "fp8")
            or converter_lacks_kv)


def _quantize_args(dtype: str, weights_quant: str, kv_quant: str, tp: int, pp: int) -> dict[str, Any]:
    args: dict[str, Any] = {"dtype": dtype, "qformat": "full_prec" if weights_quant == "none" else weights_quant,
                            "tp_size": tp, "pp_size": pp}
    if kv_quant != "auto":
        args["kv_cache_dtype"] = kv_quant
    if weights_quant != "none" or kv_quant != "auto":
        args["calib_size"] = CALIBRATION_SAMPLES
    return args


def _convert_args(family: ConverterFlags, model: ModelFacts, dtype: str, weights_quant: str, kv_quant: str, tp: int,
                  pp: int) -> dict[str, Any]:
    args: dict[str, Any] = {"dtype": dtype, **family.extra}
    if family.world_size_flag:
        args["world-size"] = tp
    else:
        args.update(tp_size=tp, pp_size=pp)
    if weights_quant in _WEIGHT_ONLY:
        args["use_weight_only"] = True
        args["weight_only_precision"] = _WEIGHT_ONLY[weights_quant]
    if kv_quant == "int8":
        args["int8_kv_cache"] = True
    elif kv_quant == "fp8":
        args["fp8_kv_cache"] = True
    if model.num_experts > 1:
        args["moe_tp_size"] = tp  # experts split like the dense layers; expert parallelism stays off
    return args


__all__ = ["CheckpointStep", "ConverterFlags", "FAMILIES", "checkpoint_step", "convert_script", "CONVERT", "QUANTIZE",
           "QUANTIZE_SCRIPT"]
