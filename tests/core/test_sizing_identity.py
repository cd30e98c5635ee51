"""The engine hash: the same on every run and machine, different whenever the binary would differ, and blind
to what does not change the binary (runtime settings, season, traffic, predictions)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_engines.core.sizing import identity

BASE: dict[str, Any] = dict(
    model_name="llama-3-8b",
    model_source={"huggingFace": {"repo": "meta-llama/Meta-Llama-3-8B-Instruct", "revision": "5f0b02c"}},
    model_architecture={"num_layers": 32, "hidden_size": 4096, "num_key_value_heads": 8, "rope_scaling": None},
    backend="tensorrt", trtllm_version="1.2.1", image="nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3",
    gpu_sm="9.0", dtype="bfloat16", weights_quant="none", kv_quant="auto", tp=1, pp=1,
    checkpoint={"method": "convert", "script": "examples/models/core/llama/convert_checkpoint.py",
                "args": {"dtype": "bfloat16", "tp_size": 1, "pp_size": 1}},
    build={"max_input_len": 4096, "max_seq_len": 8192, "max_batch_size": 256, "max_num_tokens": 8192,
           "opt_num_tokens": 256, "tokens_per_block": 32, "gemm_plugin": "auto", "multiple_profiles": "disable"},
)


def digest(**over: Any) -> str:
    return identity.digest(identity.identity_document(**{**BASE, **over}))


def test_golden_digest_pins_the_canonical_form() -> None:
    # Fixed here once: if this changes, every published engine would be rebuilt under a new name.
    assert digest() == "69723fc64a441024ec5ffa75f2d531bce827fe9d856845453d85ab00f24613c4"


def test_key_order_and_dict_insertion_do_not_matter() -> None:
    reordered = {k: BASE["build"][k] for k in reversed(list(BASE["build"]))}
    assert digest(build=reordered) == digest()


CHANGES = {
    "model_name": "llama-3-8b-ft",
    "model_source": {"huggingFace": {"repo": "meta-llama/Meta-Llama-3-8B-Instruct", "revision": "main"}},
    "model_architecture": {**BASE["model_architecture"], "num_layers": 33},
    "backend": "cpu-stand-in",
    "trtllm_version": "1.2.0",
    "image": "nvcr.io/nvidia/tritonserver:26.03-trtllm-python-py3",
    "gpu_sm": "8.9",
    "dtype": "float16",
    "weights_quant": "fp8",
    "kv_quant": "fp8",
    "tp": 2,
    "pp": 2,
    "checkpoint": {**BASE["checkpoint"], "method": "quantize"},
}


def test_every_input_that_changes_the_binary_changes_the_hash() -> None:
    seen = {digest()}
    for field, value in CHANGES.items():
        h = digest(**{field: value})
        assert h not in seen, field
        seen.add(h)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(BASE["build"])), st.one_of(st.integers(1, 1 << 20), st.sampled_from(["enable",
                                                                                                   "disable", "fp8"])))
def test_every_build_flag_changes_the_hash(flag: str, value: Any) -> None:
    build = copy.deepcopy(BASE["build"])
    changed = build[flag] != value
    build[flag] = value
    assert (digest(build=build) != digest()) == changed


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.integers(), st.text(max_size=8), st.none(),
                                                                   st.booleans()), max_size=6))
def test_the_hash_is_a_pure_function_of_its_document(extra_args: dict[str, Any]) -> None:
    checkpoint = {**BASE["checkpoint"], "args": {**BASE["checkpoint"]["args"], **extra_args}}
    a = digest(checkpoint=checkpoint)
    b = digest(checkpoint=copy.deepcopy(checkpoint))
    assert a == b and len(a) == 64
    assert identity.short(a) == a[:16]


def test_the_document_holds_nothing_outside_the_binary() -> None:
    doc = identity.identity_document(**BASE)
    assert set(doc) == {"identity_version", "model", "backend", "trtllm_version", "image", "gpu_sm", "dtype",
                        "quantization", "tp", "pp", "checkpoint", "build"}
    text = identity.canonical_json(doc)
    for word in ("season", "runtime", "kv_cache_free_gpu_mem_fraction", "replicas", "coverage"):
        assert word not in text
