"""CPU stand-in for the ``tensorrt_llm`` model of the TensorRT-LLM ensemble. NOT a TensorRT-LLM engine.

Loaded from the same ``config.pbtxt`` as NVIDIA's C++ backend (only ``backend: "python"`` differs), it
honours that config's interface as docs/trtllm-contract.md writes it down:

* parameters: refuses to load unless every parameter the 1.2 backend reads without a fallback is
  present (``gpt_model_type``, ``tokenizer_dir``, ``xgrammar_tokenizer_info_path``,
  ``guided_decoding_backend``) and ``gpt_model_path`` holds an engine ``config.json`` (ours says it is a
  stand-in); the limits come from that file's ``build_config``, as the runtime reads them;
* inputs: ``input_ids`` with ``input_lengths``, ``request_output_len``, ``end_id``/``pad_id`` and the
  word lists ``[batch, 2, n]`` (ids, then cumulative end offsets padded with -1); the sampling inputs
  (``runtime_top_k``, ``seed``, ``min_tokens``, ...) are accepted and ignored;
* admission: a prompt longer than the effective limit (``max_seq_len - 1`` with chunked context, else
  also ``max_num_tokens``) fails with "Prompt length (X) exceeds maximum input length (Y)."; a
  requested output beyond ``max_seq_len`` is clamped to fit, as the executor does;
* outputs: ``output_ids`` ``[batch, 1, n]`` (generated tokens only: ``exclude_input_in_output``),
  padded with -1, and ``sequence_length`` ``[batch, 1]``.

Generation is deterministic: it cycles through the prompt's own token ids, skipping single-token bad
words and the end id, and stops after a stop word (which stays in the output, as in TensorRT-LLM).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

REQUIRED = ("gpt_model_type", "tokenizer_dir", "xgrammar_tokenizer_info_path", "guided_decoding_backend")


def _true(value: str | None, default: bool) -> bool:
    return default if value in (None, "") else str(value).lower() in ("true", "1", "yes")


def words(lists: Any, i: int) -> list[list[int]]:
    """The words of batch item ``i`` in a ``[batch, 2, n]`` word list, as lists of token ids."""
    if lists is None or lists.shape[-1] == 0:
        return []
    ids, ends = lists[i][0].tolist(), [e for e in lists[i][1].tolist() if e >= 0]
    out: list[list[int]] = []
    start = 0
    for end in ends:
        out.append(ids[start:end])
        start = end
    return out


def generate(prompt: list[int], wanted: int, room: int, end_id: int, bad: list[list[int]],
             stop: list[list[int]]) -> list[int]:
    """Tokens for one request: at most ``min(wanted, room)``."""
    limit = max(0, min(wanted, room))
    banned = {w[0] for w in bad if len(w) == 1} | {end_id}
    pool = [t for t in prompt if t not in banned] or [t for t in range(1, 64) if t not in banned][:1]
    out: list[int] = []
    while len(out) < limit:
        out.append(pool[len(out) % len(pool)])
        if any(len(s) and out[-len(s):] == s for s in stop):
            break
    return out


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        missing = [k for k in REQUIRED if k not in params]
        if missing:
            raise pb_utils.TritonModelException(f"Cannot find parameter with name: {missing[0]}")
        engine = os.path.join(params.get("gpt_model_path", ""), "config.json")
        if not os.path.isfile(engine):
            raise pb_utils.TritonModelException(f"Decoder (GPT) model path at {engine} does not exist.")
        with open(engine, encoding="utf-8") as f:
            doc = json.load(f)
        if "stand_in" not in doc:
            raise pb_utils.TritonModelException(f"{engine} is a real engine: the CPU stand-in only serves its own")
        build = doc["build_config"]
        plugins = build.get("plugin_config", {})
        self.max_seq_len = int(build["max_seq_len"])
        chunked = _true(params.get("enable_chunked_context"), False)
        if chunked and not plugins.get("use_paged_context_fmha"):
            raise pb_utils.TritonModelException("enable_chunked_context requires building the model with "
                                                "use_paged_context_fmha")
        if plugins.get("context_fmha", True) and plugins.get("remove_input_padding", True):
            self.max_input_len = self.max_seq_len - 1 if chunked else min(self.max_seq_len - 1,
                                                                          int(build["max_num_tokens"]))
        else:
            self.max_input_len = int(build["max_input_len"])
        if not _true(params.get("exclude_input_in_output"), False):
            raise pb_utils.TritonModelException("the stand-in returns generated tokens only: set "
                                                "exclude_input_in_output true")

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(r) for r in requests]

    def _get(self, request: Any, name: str) -> Any:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        return None if tensor is None else tensor.as_numpy()

    def _one(self, request: Any) -> Any:
        ids = self._get(request, "input_ids")
        ids = ids.reshape(1, -1) if ids.ndim == 1 else ids
        batch = ids.shape[0]
        lengths = self._get(request, "input_lengths").reshape(batch)
        wanted = self._get(request, "request_output_len").reshape(batch)
        end_id = self._get(request, "end_id")
        end_ids = end_id.reshape(batch) if end_id is not None else np.full(batch, -1)
        bad, stop = self._get(request, "bad_words_list"), self._get(request, "stop_words_list")
        for n in lengths:
            if int(n) > self.max_input_len:
                return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(
                    f"Prompt length ({int(n)}) exceeds maximum input length ({self.max_input_len})."))
        outs = []
        for i in range(batch):
            prompt = ids[i][:int(lengths[i])].tolist()
            outs.append(generate(prompt, int(wanted[i]), self.max_seq_len - len(prompt), int(end_ids[i]),
                                 words(bad, i), words(stop, i)))
        width = max(1, max(len(o) for o in outs))
        output_ids = np.full((batch, 1, width), -1, dtype=np.int32)
        for i, o in enumerate(outs):
            output_ids[i, 0, :len(o)] = o
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("output_ids", output_ids),
            pb_utils.Tensor("sequence_length", np.array([[len(o)] for o in outs], dtype=np.int32)),
        ])
