"""What trtllm-build builds from a plan's plugin flags, and what it refuses, before any GPU hour is spent.

TensorRT-LLM 1.2's ``tensorrt_llm/builder.py::build`` rewrites two plugin settings without failing,
by the checkpoint's quantization (facts in docs/trtllm-contract.md, "builder rewrites"):

* FP8 context FMHA stays on only for FP8-family weights (FP8, W4A8_AWQ, NVFP4) on SM 8.9 or newer, and
  with paged context FMHA only together with an FP8 KV cache; an FP8 KV cache turns it on;
* paged context FMHA is turned off for an FP8 KV cache over non-FP8 weights (and on SM < 8.9), and for
  any INT8 KV cache; chunked context and KV-cache reuse need it;
* on SM 10.x it raises for INT8/INT4 weight-only weights, an INT8 KV cache and SmoothQuant.

Our verify step compares the built engine with its plan, so a plan these rules change would fail after
the GPU hours. :func:`problems` finds such plans when the build job reads them. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

FP8_FAMILY = frozenset({"fp8", "w4a8_awq", "nvfp4"})
WEIGHT_ONLY_INT = frozenset({"int8_wo", "int4_wo", "int4_awq"})


@dataclass(frozen=True)
class Fmha:
    """The two context-FMHA settings an engine ends up with."""

    paged: bool
    fp8: bool


def sm_tuple(sm: str) -> tuple[int, int]:
    major, _, minor = sm.partition(".")
    return int(major), int(minor or 0)


def built_fmha(*, weights: str, kv_cache: str, sm: str, context_fmha: bool, paged: bool, fp8: bool) -> Fmha:
    """The paged and FP8 context-FMHA settings trtllm-build keeps for these requested settings."""
    fp8_kv, int8_kv = kv_cache == "fp8", kv_cache == "int8"
    if not context_fmha:
        return Fmha(paged=False, fp8=False)
    if weights not in FP8_FAMILY:
        fp8 = False
        if paged and fp8_kv:
            paged = False
    elif sm_tuple(sm) < (8, 9):
        fp8 = False
        if paged and fp8_kv:
            paged = False
    elif paged:
        if not fp8_kv and fp8:
            fp8 = False
        elif fp8_kv and not fp8:
            fp8 = True
    if paged and int8_kv:
        paged = False
    return Fmha(paged=paged, fp8=fp8)


def refusal(*, weights: str, kv_cache: str, sm: str) -> str | None:
    """Why trtllm-build raises for this quantization on this SM, or None."""
    if (10, 0) <= sm_tuple(sm) < (12, 0):
        if weights in WEIGHT_ONLY_INT or kv_cache == "int8":
            return "INT8/INT4 quantization is not supported on SM>=100"
        if weights == "int8_sq":
            return "SmoothQuant is not supported on SM>=100"
    return None


def problems(*, weights: str, kv_cache: str, sm: str, flags: dict[str, object]) -> list[str]:
    """Every way trtllm-build would change or refuse these ``plan.build`` flags, each with the fix."""
    refused = refusal(weights=weights, kv_cache=kv_cache, sm=sm)
    if refused:
        return [f"trtllm-build raises for weights {weights} with KV cache {kv_cache} on SM {sm} ({refused}): "
                "choose another quantization in spec.model.quantization"]

    def on(name: str, default: str) -> bool:
        return str(flags.get(name, default)) == "enable"

    planned = Fmha(paged=on("use_paged_context_fmha", "enable"), fp8=on("use_fp8_context_fmha", "enable"))
    built = built_fmha(weights=weights, kv_cache=kv_cache, sm=sm, context_fmha=on("context_fmha", "enable"),
                       paged=planned.paged, fp8=planned.fp8)
    out = []
    for name, want, got in (("use_paged_context_fmha", planned.paged, built.paged),
                            ("use_fp8_context_fmha", planned.fp8, built.fp8)):
        if want != got:
            out.append(f"plan.build.{name} is {'enable' if want else 'disable'} but trtllm-build turns it "
                       f"{'on' if got else 'off'} for weights {weights} with KV cache {kv_cache} on SM {sm}; "
                       "regenerate the plan with this operator version (it plans what the builder builds)")
    return out
