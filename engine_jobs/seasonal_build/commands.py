"""The exact commands of the real TensorRT-LLM build path, as argv lists (pure, no I/O).

Golden tests pin these for the preset models, so a change to any flag is a visible diff.
Paths are those of NVIDIA's Triton TRT-LLM container (``/app/examples`` holds TensorRT-LLM's
examples there); callers may point ``examples_dir`` elsewhere. Flags follow TensorRT-LLM 1.x:
``--tp_size``/``--pp_size`` belong to the checkpoint step, ``trtllm-build`` builds one engine per
rank from the checkpoint's mapping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seasonal_build import plans

PYTHON = "python3"
EXAMPLES_DIR = "/app/examples"

@dataclass(frozen=True)
class Command:
    """One process to run: what it is for, its argv, and extra environment variable *names* it reads."""

    step: str
    argv: tuple[str, ...]
    reads_env: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "argv": list(self.argv), "reads_env": list(self.reads_env)}

    def shell(self) -> str:
        """A copy-pasteable form for logs."""
        import shlex

        return " ".join(shlex.quote(a) for a in self.argv)


# What a conversion reads from a Hugging Face repository: configs, safetensors weights, tokenizer files and
# custom code. Never Meta's original/*.pth consolidated weights (about 140 GB more for a 70B model).
DOWNLOAD_ALLOW = ("*.json", "*.safetensors", "tokenizer.model", "*.tiktoken", "merges.txt", "vocab.txt", "*.py")
DOWNLOAD_IGNORE = ("original/*", "*.pth", "*.pt", "consolidated*", "*.gguf", "*.onnx", "*.msgpack", "*.h5")
# Used only when a repository has no safetensors at all (older checkpoints).
DOWNLOAD_BIN_FALLBACK = ("pytorch_model*.bin",)
HF_TOKEN_FILE_ENV = "HF_TOKEN_PATH"  # huggingface_hub reads the token from this file (constants.py)


def download(repo: str, revision: str, cache_dir: str) -> Command:
    """Fetch what conversion needs of a Hugging Face snapshot with the container's huggingface_hub; prints
    the snapshot path.

    A subprocess keeps this package standard-library only. The token comes from ``HF_TOKEN_PATH`` (a file,
    mounted only into the download step) or ``HF_TOKEN``, read by huggingface_hub itself, so it never
    appears in an argv or a log.
    """
    code = ("import json, sys; from huggingface_hub import HfApi, snapshot_download; "
            "allow, ignore, fallback = (json.loads(a) for a in sys.argv[4:7]); "
            "files = HfApi().list_repo_files(sys.argv[1], revision=sys.argv[2]); "
            "allow += [] if any(f.endswith('.safetensors') for f in files) else fallback; "
            "print(snapshot_download(repo_id=sys.argv[1], revision=sys.argv[2], cache_dir=sys.argv[3], "
            "allow_patterns=allow, ignore_patterns=ignore))")
    return Command("resolve", (PYTHON, "-c", code, repo, revision, cache_dir, json.dumps(list(DOWNLOAD_ALLOW)),
                               json.dumps(list(DOWNLOAD_IGNORE)), json.dumps(list(DOWNLOAD_BIN_FALLBACK))),
                   reads_env=("HF_TOKEN", HF_TOKEN_FILE_ENV))


def calibrates(plan: plans.Plan) -> bool:
    """Whether the checkpoint step reads a calibration set (quantize.py skips it for full precision and
    weight-only formats without a quantized KV cache; convert_checkpoint.py calibrates an INT8 KV cache
    and SmoothQuant)."""
    args = plan.checkpoint_args
    if plan.checkpoint_method is plans.CheckpointMethod.quantize:
        return args.get("qformat", "full_prec") not in ("full_prec", "int8_wo", "int4_wo") or \
            args.get("kv_cache_dtype") is not None
    return bool(args.get("int8_kv_cache") or args.get("smoothquant"))


def checkpoint(plan: plans.Plan, model_dir: str, output_dir: str, examples_dir: str = EXAMPLES_DIR,
               calibration_dir: str | None = None) -> Command:
    """Convert (or quantize) the Hugging Face checkpoint with the plan's script and flags.

    The planner chooses the script (``examples/models/core/<family>/convert_checkpoint.py`` or ModelOpt's
    ``examples/quantization/quantize.py``) and every flag but the directories; dtype and the parallel
    mapping are added from the plan's model when the flags leave them out, in the family's own spelling
    (gemma: ``--world-size``, no pipeline parallelism), so the checkpoint always has the planned mapping.
    ``calibration_dir`` (a local datasets directory) replaces the Hub dataset when the step calibrates.
    """
    m = plan.model
    script = examples_dir.rstrip("/") + "/" + plan.checkpoint_script.removeprefix("examples/")
    args = dict(plan.checkpoint_args)
    args.setdefault("dtype", m.dtype)
    family = plans.FAMILY_FLAGS.get(m.family, {}) if plan.checkpoint_method is plans.CheckpointMethod.convert else {}
    if family.get("parallel") == "world-size":
        args.setdefault("world-size", m.tp)
    else:
        args.setdefault("tp_size", m.tp)
        args.setdefault("pp_size", m.pp)
    if calibration_dir is not None and calibrates(plan):
        args["calib_dataset"] = calibration_dir
    argv = [PYTHON, script, "--model_dir", model_dir, "--output_dir", output_dir, *_flags(args)]
    return Command("convert", tuple(argv))


def trtllm_build(plan: plans.Plan, checkpoint_dir: str, output_dir: str) -> Command:
    """``trtllm-build`` with exactly the plan's flags.

    ``--opt_num_tokens`` is left out with ``--multiple_profiles enable``: trtllm-build refuses the pair.
    ``--workers`` only parallelises the per-rank builds over the Job's GPUs; it does not change the engine.
    """
    argv = ["trtllm-build", "--checkpoint_dir", checkpoint_dir, "--output_dir", output_dir]
    for name in plans.INT_FLAGS:
        if name not in plan.build:
            continue
        if name == "opt_num_tokens" and plan.enabled("multiple_profiles"):
            continue
        argv += [f"--{name}", str(plan.build[name])]
    for name in plans.STR_FLAGS:
        if name in plan.build:
            argv += [f"--{name}", str(plan.build[name])]
    argv += ["--workers", str(plan.model.world_size)]
    # Run in a scratch working directory: trtllm-build writes its timing cache (model.cache) there.
    return Command("build", tuple(argv))


def gpu_query() -> Command:
    """The GPU's name and compute capability, one CSV line per GPU."""
    return Command("verify", ("nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"))


def passed_opt_num_tokens(plan: plans.Plan) -> bool:
    """Whether trtllm-build receives --opt_num_tokens (so the engine's value must equal the plan's)."""
    return "opt_num_tokens" in plan.build and not plan.enabled("multiple_profiles")


def _flags(args: Mapping[str, Any]) -> list[str]:
    """``checkpoint.args`` as flags in key order: true -> bare flag, false/None -> left out."""
    out: list[str] = []
    for key in sorted(args):
        value = args[key]
        if not key.replace("_", "").replace("-", "").isalnum() or key.startswith("-"):
            raise plans.PlanError(f"plan.checkpoint.args key {key!r} is not a flag name (letters, digits, '_', '-')")
        if value is True:
            out.append(f"--{key}")
        elif value is False or value is None:
            continue
        elif isinstance(value, (int, float, str)):
            out += [f"--{key}", str(value)]
        else:
            raise plans.PlanError(f"plan.checkpoint.args.{key} must be a string, number or boolean, got {value!r}")
    return out
