"""The limits the TensorRT-LLM runtime enforces for a plan, and the engine ``config.json`` a CPU stand-in carries.

The runtime does not reject prompts at the build's ``max_input_len``: with packed input and context
FMHA, chunked context admits up to ``max_seq_len - 1`` tokens and otherwise a prompt must also fit in
``max_num_tokens`` (TensorRT-LLM ``TrtGptModel`` constructor; facts in docs/trtllm-contract.md). The
models that record token metrics use the same limit to count the prompts the engine will refuse. Pure.
"""

from __future__ import annotations

from typing import Any

from seasonal_build import plans

STAND_IN_MARK = "cpu-stand-in: not a TensorRT-LLM engine"


def effective_input_limit(plan: plans.Plan) -> int:
    """The longest prompt the TensorRT-LLM runtime admits for this plan."""
    max_seq_len = plan.build_int("max_seq_len")
    if plan.backend is plans.Backend.pytorch:
        # The LLM API's runtime settings (plan.runtime): chunked prefill lifts the per-iteration bound.
        if (plan.raw.get("runtime") or {}).get("enable_chunked_prefill"):
            return max_seq_len - 1
        return min(max_seq_len - 1, plan.build_int("max_num_tokens"))
    if plan.enabled("context_fmha") and plan.enabled("remove_input_padding"):
        if plan.runtime.enable_chunked_context:
            return max_seq_len - 1
        return min(max_seq_len - 1, plan.build_int("max_num_tokens"))
    return plan.build_int("max_input_len")


def stand_in_engine_config(plan: plans.Plan) -> dict[str, Any]:
    """An engine ``config.json`` in TensorRT-LLM 1.x form with the plan's limits, marked as a stand-in.

    It is what trtllm-build would write for a buildable plan (plugins as planned, ``auto`` resolved to
    the model dtype), so the stand-in reads the same keys the runtime reads and
    :func:`seasonal_build.verification.engine_facts` accepts it.
    """
    b = plan.build
    dtype = plan.model.dtype

    def plugin(name: str, default: str) -> str | None:
        value = str(b.get(name, default))
        return None if value == "disable" else (dtype if value == "auto" else value)

    return {
        "version": plan.trtllm_version,
        "stand_in": STAND_IN_MARK,
        "pretrained_config": {"architecture": plan.model.family, "dtype": dtype,
                              "mapping": {"world_size": plan.model.world_size, "tp_size": plan.model.tp,
                                          "pp_size": plan.model.pp}},
        "build_config": {
            "max_input_len": b["max_input_len"], "max_seq_len": b["max_seq_len"],
            "max_batch_size": b["max_batch_size"], "max_beam_width": b.get("max_beam_width", 1),
            "max_num_tokens": b["max_num_tokens"], "opt_num_tokens": b.get("opt_num_tokens"),
            "max_prompt_embedding_table_size": 0, "kv_cache_type": str(b.get("kv_cache_type", "paged")).upper(),
            "plugin_config": {
                "gpt_attention_plugin": plugin("gpt_attention_plugin", "auto"),
                "gemm_plugin": plugin("gemm_plugin", "disable"),
                "tokens_per_block": b.get("tokens_per_block", 32), "paged_kv_cache": True,
                **{k: plan.enabled(k) for k in ("context_fmha", "remove_input_padding", "use_paged_context_fmha",
                                                "use_fp8_context_fmha", "multiple_profiles")},
            },
        },
    }
