"""CPU stand-in for a TensorRT-LLM engine: a Triton Python-backend model. NOT a TensorRT-LLM engine.

It takes the same request tensors as the TensorRT-LLM ensemble (``text_input``, ``max_tokens``,
optional sampling inputs it ignores) and answers ``text_output``, ``num_input_tokens``,
``num_output_tokens`` and ``finish_reason``, enforcing the engine's limits the way the real
runtime does:

* a prompt longer than the effective input limit is rejected with the runtime's message,
  "Prompt length (X) exceeds maximum input length (Y)";
* generation stops when prompt + output reaches ``max_seq_len`` (finish reason ``engine_limit``),
  or at the client's ``max_tokens`` (``length``);
* Triton's ``max_batch_size`` with one instance caps how many sequences run at once; the rest queue.

Tokenizer: whitespace-separated words are tokens (``len(text.split())``); generated text is
``tok0 tok1 ...``, so every answer is deterministic. ``decode_ms_per_token`` (default 0) adds a
per-step delay for benchmarks. Every admission, rejected ones included, is recorded through
``token_metrics`` (copied next to this file) so histograms and censoring counters see all demand.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import token_metrics
import triton_python_backend_utils as pb_utils

ENGINE_KIND = "cpu-stand-in"


def count_tokens(text: str) -> int:
    """The stand-in's tokenizer: whitespace-separated words."""
    return len(text.split())


def generate(n: int) -> str:
    return " ".join(f"tok{i}" for i in range(n))


def plan_output(input_tokens: int, max_tokens: int, max_seq_len: int) -> tuple[int, str]:
    """(tokens generated, finish reason) for an admitted request."""
    room = max_seq_len - input_tokens
    if max_tokens <= room:
        return max_tokens, "length"
    return room, "engine_limit"


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        if params.get("engine_kind") != ENGINE_KIND:
            raise pb_utils.TritonModelException("this model.py only serves a cpu-stand-in config.pbtxt")
        self.max_input_len = int(params["max_input_len"])  # the effective limit the runtime enforces
        self.max_seq_len = int(params["max_seq_len"])
        self.ms_per_token = float(params.get("decode_ms_per_token", "0") or 0)
        self.metrics = token_metrics.TokenMetrics(
            model=params.get("model_label", args["model_name"]),
            max_input_len=self.max_input_len, max_seq_len=self.max_seq_len)

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        longest = 0
        for request in requests:
            response, generated = self._one(request)
            responses.append(response)
            longest = max(longest, generated)
        if self.ms_per_token > 0 and longest:
            # The whole batch decodes together, as in-flight batching does: the longest output sets the pace.
            time.sleep(self.ms_per_token * longest / 1000.0)
        return responses

    def _one(self, request: Any) -> tuple[Any, int]:
        texts = pb_utils.get_input_tensor_by_name(request, "text_input").as_numpy().reshape(-1)
        max_tokens = pb_utils.get_input_tensor_by_name(request, "max_tokens").as_numpy().reshape(-1)
        if max_tokens.size == 1 and texts.size > 1:
            max_tokens = np.repeat(max_tokens, texts.size)
        prompts = [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in texts]
        lengths = [count_tokens(p) for p in prompts]
        for length, wanted in zip(lengths, max_tokens):
            self.metrics.observe_admission(length, int(wanted))
        too_long = [length for length in lengths if length > self.max_input_len]
        for length in too_long:  # one count per refused sequence: the censored demand
            self.metrics.observe_rejection(length)
        if too_long:
            return self._error(f"Prompt length ({too_long[0]}) exceeds maximum input length "
                               f"({self.max_input_len}). [{ENGINE_KIND}]"), 0
        if min(lengths) < 1:
            return self._error(f"Prompt is empty: at least one input token is required. [{ENGINE_KIND}]"), 0
        if int(min(max_tokens)) < 1:
            return self._error(f"max_tokens must be at least 1, got {int(min(max_tokens))}. [{ENGINE_KIND}]"), 0
        outputs: list[bytes] = []
        counts: list[int] = []
        reasons: list[bytes] = []
        for length, wanted in zip(lengths, max_tokens):
            n, reason = plan_output(length, int(wanted), self.max_seq_len)
            self.metrics.observe_completion(length, n, limit_stopped=(reason == "engine_limit"))
            outputs.append(generate(n).encode("utf-8"))
            counts.append(n)
            reasons.append(reason.encode("utf-8"))
        batch = len(prompts)
        tensors = [
            pb_utils.Tensor("text_output", np.array(outputs, dtype=np.object_).reshape(batch, 1)),
            pb_utils.Tensor("num_input_tokens", np.array(lengths, dtype=np.int32).reshape(batch, 1)),
            pb_utils.Tensor("num_output_tokens", np.array(counts, dtype=np.int32).reshape(batch, 1)),
            pb_utils.Tensor("finish_reason", np.array(reasons, dtype=np.object_).reshape(batch, 1)),
        ]
        return pb_utils.InferenceResponse(output_tensors=tensors), max(counts)

    @staticmethod
    def _error(message: str) -> Any:
        return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message))
