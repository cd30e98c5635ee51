"""Read an engine's ``config.json`` back and compare it with its plan; compare built and planned SM.

An engine is published only when what TensorRT-LLM actually built equals what was planned, and
when it was built on the compute capability it will be served on (TensorRT engines do not move
between SMs). Reads three ``config.json`` generations (TensorRT-LLM 1.x, 0.8-0.10 with
``max_output_len``, and pre-0.8 ``builder_config``). Pure: takes decoded JSON, returns values or
raises :class:`VerificationError`; :func:`read_engine_config` is the one reader of a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seasonal_build import commands, plans


class VerificationError(RuntimeError):
    """The built engine is not the planned one; it must not be published."""


@dataclass(frozen=True)
class EngineFacts:
    """What an engine directory says about itself, in TensorRT-LLM 1.x terms."""

    format: str  # "1.x", "0.8-0.10" or "pre-0.8"
    version: str | None
    build: Mapping[str, Any]  # max_* limits and kv_cache_type, lower case
    plugins: Mapping[str, Any]
    tp: int
    pp: int

    @property
    def world_size(self) -> int:
        return self.tp * self.pp


def read_engine_config(engine_dir: Path) -> dict[str, Any]:
    path = Path(engine_dir) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerificationError(f"{path} is missing: the build wrote no engine config") from None
    except json.JSONDecodeError as exc:
        raise VerificationError(f"{path} is not JSON ({exc.msg}); the build was interrupted or is broken") from None
    if not isinstance(data, dict):
        raise VerificationError(f"{path} must hold a JSON object")
    return data


def engine_facts(config: Mapping[str, Any]) -> EngineFacts:
    """Normalise the three known config.json layouts."""
    if "build_config" in config:
        bc = dict(config["build_config"])
        plugins = dict(bc.get("plugin_config") or {})
        fmt = "1.x"
        if "max_seq_len" not in bc and "max_output_len" in bc:
            # 0.8-0.10 kept max_output_len; the sequence limit was input + output.
            fmt = "0.8-0.10"
            bc["max_seq_len"] = int(bc["max_input_len"]) + int(bc["max_output_len"])
        mapping = (config.get("pretrained_config") or {}).get("mapping") or {}
        tp, pp = int(mapping.get("tp_size", 1)), int(mapping.get("pp_size", 1))
        version = config.get("version")
    elif "builder_config" in config:
        fmt = "pre-0.8"
        b = dict(config["builder_config"])
        plugins = dict(config.get("plugin_config") or {})
        bc = {k: b[k] for k in ("max_batch_size", "max_input_len", "max_num_tokens", "max_beam_width") if k in b}
        if "max_output_len" in b and "max_input_len" in b:
            bc["max_seq_len"] = int(b["max_input_len"]) + int(b["max_output_len"])
        if "paged_kv_cache" in plugins:
            bc["kv_cache_type"] = "paged" if plugins["paged_kv_cache"] else "continuous"
        tp, pp = int(b.get("tensor_parallel", 1)), int(b.get("pipeline_parallel", 1))
        version = None
    else:
        raise VerificationError("engine config.json has neither build_config nor builder_config; it is not a "
                                "TensorRT-LLM engine config")
    if "kv_cache_type" in bc and isinstance(bc["kv_cache_type"], str):
        bc["kv_cache_type"] = bc["kv_cache_type"].lower()
    elif "kv_cache_type" not in bc and "paged_kv_cache" in plugins:
        bc["kv_cache_type"] = "paged" if plugins["paged_kv_cache"] else "continuous"
    return EngineFacts(format=fmt, version=version, build=bc, plugins=plugins, tp=tp, pp=pp)


def differences(plan: plans.Plan, facts: EngineFacts) -> list[str]:
    """Every way the engine differs from the plan, one readable line each (empty when they agree)."""
    out: list[str] = []

    def compare(name: str, planned: Any, built: Any) -> None:
        if planned != built:
            out.append(f"{name}: planned {planned!r}, engine has {built!r}")

    for name in ("max_batch_size", "max_input_len", "max_seq_len", "max_num_tokens", "max_beam_width"):
        if name in plan.build or name == "max_beam_width":
            compare(name, plan.build.get(name, 1), facts.build.get(name))
    if commands.passed_opt_num_tokens(plan):
        compare("opt_num_tokens", plan.build["opt_num_tokens"], facts.build.get("opt_num_tokens"))
    if "kv_cache_type" in plan.build:
        compare("kv_cache_type", plan.build["kv_cache_type"], facts.build.get("kv_cache_type"))
    if "tokens_per_block" in plan.build:
        compare("tokens_per_block", plan.build["tokens_per_block"], facts.plugins.get("tokens_per_block"))
    features = ["context_fmha", "remove_input_padding", "use_paged_context_fmha", "multiple_profiles"]
    # TensorRT-LLM applies FP8 context FMHA only to FP8-family checkpoints; elsewhere the stored flag says nothing.
    if plan.model.weights in ("fp8", "w4a8_awq", "nvfp4"):
        features.append("use_fp8_context_fmha")
    for name in features:
        if name in plan.build:
            compare(name, plan.build[name] == "enable", bool(facts.plugins.get(name)))
    for name in ("gpt_attention_plugin", "gemm_plugin"):
        if name in plan.build:
            planned = _resolve_plugin(str(plan.build[name]), plan.model.dtype)
            built = _resolve_plugin(_plugin(facts.plugins.get(name)) or "disable", plan.model.dtype)
            compare(name, planned, built)
    compare("tensor parallel size", plan.model.tp, facts.tp)
    compare("pipeline parallel size", plan.model.pp, facts.pp)
    return out


def verify_engine(plan: plans.Plan, config: Mapping[str, Any], rank_files: list[str]) -> EngineFacts:
    """Raise unless the engine matches the plan and has one ``rank<N>.engine`` per rank."""
    facts = engine_facts(config)
    diffs = differences(plan, facts)
    expected = {f"rank{r}.engine" for r in range(plan.model.world_size)}
    missing = sorted(expected - set(rank_files))
    if missing:
        diffs.append(f"rank engines missing: {', '.join(missing)}")
    if diffs:
        raise VerificationError(f"engine {plan.short_hash} differs from its plan; not publishing:\n  "
                                + "\n  ".join(diffs))
    return facts


def verify_sm(plan: plans.Plan, built_sm: str, gpu_name: str = "") -> None:
    """TensorRT engines run only on the compute capability they were built on."""
    if built_sm.strip() != plan.gpu.sm:
        raise VerificationError(
            f"engine built on compute capability {built_sm.strip()} ({gpu_name or 'unknown GPU'}) but planned for "
            f"{plan.gpu.sm} ({plan.gpu.product}); refusing to publish: run the build Job on a "
            f"nvidia.com/gpu.product={plan.gpu.product} node")


_VERSION = re.compile(r"^(\d+(?:\.\d+)*)((?:a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+.*)?$")


def version_matches(found: str, pinned: str) -> bool:
    """Whether TensorRT-LLM ``found`` (an image's or an engine's) is the ``pinned`` release.

    Release segments compare as numbers and the pin may stop early (``1.2`` takes ``1.2.1``); a
    pre-release matches only the same pre-release (``1.2.0rc8`` is not ``1.2.0``); a local suffix
    (``+cu13``) is ignored.
    """
    a, b = _VERSION.match(found.strip().lower()), _VERSION.match(pinned.strip().lower())
    if a is None or b is None:
        return found.strip() == pinned.strip()
    release_a = [int(x) for x in a.group(1).split(".")]
    release_b = [int(x) for x in b.group(1).split(".")]
    if release_a[:len(release_b)] != release_b:
        return False
    if (a.group(2) or "") != (b.group(2) or ""):
        return False
    return b.group(3) is None or a.group(3) == b.group(3)


def verify_version(found: str | None, plan: plans.Plan, what: str) -> None:
    """Refuse a TensorRT-LLM other than the plan's, naming both and both fixes."""
    if not found:
        raise VerificationError(f"cannot tell which TensorRT-LLM {what} has; the plan pins {plan.trtllm_version}: "
                                f"run the build in the plan's image {plan.image}")
    if not version_matches(found, plan.trtllm_version):
        raise VerificationError(
            f"{what} TensorRT-LLM {found} but the plan pins {plan.trtllm_version}: engines load only on the "
            f"TensorRT-LLM (and TensorRT) that built them. Use an image with {plan.trtllm_version} in "
            f"spec.engine.image, or set spec.engine.trtllmVersion to {found} to build with this one "
            f"(the plan's image is {plan.image})")


def parse_gpu_query(stdout: str) -> tuple[str, str]:
    """(name, compute capability) of the first GPU from ``nvidia-smi --query-gpu=name,compute_cap``."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise VerificationError("nvidia-smi listed no GPU; the build needs one")
    name, _, cap = lines[0].rpartition(",")
    if not plans.SM.match(cap.strip()):
        raise VerificationError(f"cannot read a compute capability from nvidia-smi output {lines[0]!r}")
    caps = {line.rpartition(",")[2].strip() for line in lines}
    if len(caps) > 1:
        raise VerificationError(f"the build node mixes GPU architectures ({', '.join(sorted(caps))}); an engine "
                                "must be built on one")
    return name.strip(), cap.strip()


def _resolve_plugin(value: str, dtype: str) -> str | None:
    """A plugin dtype as the engine runs it: ``auto`` means the model dtype (config.json may keep either)."""
    if value == "disable":
        return None
    return dtype if value == "auto" else value


def _plugin(value: Any) -> str | None:
    if value in (None, False, "disable", ""):
        return None
    return str(value)
