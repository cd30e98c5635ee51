"""Token exporter: a Triton Python-backend (BLS) model in front of an LLM model that records every request's
prompt and output lengths, and the requests the engine refused or cut short, as Prometheus metrics.

Clients call it exactly as they would call the downstream model (the TensorRT-LLM ``ensemble``, our CPU
stand-in, or ``tensorrt_llm_bls``): same request tensors (``text_input``, ``max_tokens``, optional sampling
inputs), same response tensors. For each request it

1. counts the prompt's tokens and records the admission (``token_metrics.TokenMetrics``), before the engine
   can refuse it, so over-long prompts still show in the input histogram;
2. forwards the request unchanged with ``pb_utils.InferenceRequest(...).exec()`` (BLS);
3. on a length error from the engine ("Prompt length (X) exceeds maximum input length (Y)", or a sequence
   beyond ``max_seq_len``) counts a rejection and returns the error as is;
4. otherwise reads the output length (``num_output_tokens`` when the downstream returns it, else the
   tokenizer on ``text_output``) and whether the engine's limit stopped it (``finish_reason`` when
   returned, else: fewer tokens than ``max_tokens`` and prompt + output reached ``max_seq_len``), records the
   completion and returns the downstream's response.

Parameters (config.pbtxt ``parameters``): ``downstream_model`` (default ``ensemble``), ``model_label``
(the ``model`` label; default the downstream's name), ``tokenizer`` (``whitespace``, the stand-in's rule,
or a Hugging Face tokenizer directory; with a directory ``transformers`` must be importable, as it is in
NVIDIA's TRT-LLM containers), ``downstream_outputs`` (comma-separated outputs the downstream returns,
default ``text_output``; list ``num_output_tokens`` and ``finish_reason`` when it has them, as our ensemble
and the stand-in do), ``max_input_len``/``max_seq_len`` (the engine's limits, used to
tell limit stops from end tokens when no ``finish_reason`` comes back). Not decoupled: streaming responses
are not supported yet (see docs/token-exporter.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import token_metrics
import triton_python_backend_utils as pb_utils

LENGTH_ERRORS = (
    re.compile(r"[Pp]rompt length \((\d+)\) exceeds maximum input length"),
    re.compile(r"exceeds maximum (sequence|input) length"),
    re.compile(r"maximum context length is \d+ tokens"),
)


def _param(params: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = params.get(key, {}).get("string_value", "")
    return str(value) if value not in ("", None) and not value.startswith("${") else default


def _texts(tensor: Any) -> list[str]:
    values = tensor.as_numpy().reshape(-1)
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        self.downstream = _param(params, "downstream_model", "ensemble") or "ensemble"
        outputs = _param(params, "downstream_outputs", "text_output") or "text_output"
        self.downstream_outputs = [n.strip() for n in outputs.split(",") if n.strip()]
        limit = _param(params, "max_seq_len")
        self.max_seq_len = int(limit) if limit else None
        limit = _param(params, "max_input_len")
        self.max_input_len = int(limit) if limit else None
        self.declared_outputs = {o["name"] for o in config.get("output", [])}
        tokenizer = _param(params, "tokenizer", "whitespace") or "whitespace"
        self.count: Callable[[str], int]
        if tokenizer == "whitespace":
            self.count = lambda text: len(text.split())
        else:
            from transformers import AutoTokenizer  # present in NVIDIA's TRT-LLM containers

            tok = AutoTokenizer.from_pretrained(tokenizer, trust_remote_code=False)
            self.count = lambda text: len(tok.encode(text, add_special_tokens=False))
        self.metrics = token_metrics.TokenMetrics(
            model=_param(params, "model_label", self.downstream) or self.downstream,
            max_input_len=self.max_input_len, max_seq_len=self.max_seq_len)

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(request) for request in requests]

    def _one(self, request: Any) -> Any:
        texts = _texts(pb_utils.get_input_tensor_by_name(request, "text_input"))
        wanted_tensor = pb_utils.get_input_tensor_by_name(request, "max_tokens")
        wanted: list[Any] = wanted_tensor.as_numpy().reshape(-1).tolist() if wanted_tensor is not None else [None]
        if len(wanted) == 1 and len(texts) > 1:
            wanted = wanted * len(texts)
        lengths = [self.count(t) for t in texts]
        for length, limit in zip(lengths, wanted):
            self.metrics.observe_admission(length, limit)

        # Ask the downstream for everything it has (the counts included); give the client what it asked for.
        requested = set(request.requested_output_names()) or self.declared_outputs
        outputs = [n for n in self.downstream_outputs if n in requested and n in self.declared_outputs]
        answer = pb_utils.InferenceRequest(model_name=self.downstream, inputs=request.inputs(),
                                           requested_output_names=self.downstream_outputs).exec()
        if answer.has_error():
            message = answer.error().message()
            if any(p.search(message) for p in LENGTH_ERRORS):
                for _ in lengths:
                    self.metrics.observe_rejection()
            return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message))

        produced = {t.name(): t for t in answer.output_tensors()}
        n_out = self._output_lengths(produced, len(texts))
        reasons = self._finish_reasons(produced, len(texts))
        for length, generated, limit, reason in zip(lengths, n_out, wanted, reasons):
            if reason is not None:
                stopped = reason == "engine_limit"
            else:
                stopped = (self.max_seq_len is not None and length + generated >= self.max_seq_len
                           and (limit is None or generated < int(limit)))
            self.metrics.observe_completion(length, generated, limit_stopped=stopped)
        return pb_utils.InferenceResponse(output_tensors=[produced[n] for n in outputs if n in produced])

    def _output_lengths(self, produced: dict[str, Any], batch: int) -> list[int]:
        tensor = produced.get("num_output_tokens")
        if tensor is not None:
            return [int(v) for v in tensor.as_numpy().reshape(-1)[:batch]]
        text = produced.get("text_output")
        if text is None:
            return [0] * batch
        return [self.count(t) for t in _texts(text)[:batch]]

    @staticmethod
    def _finish_reasons(produced: dict[str, Any], batch: int) -> list[str | None]:
        tensor = produced.get("finish_reason")
        if tensor is None:
            return [None] * batch
        return list(_texts(tensor)[:batch])
