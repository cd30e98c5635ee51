"""The front ``ensemble`` of a PyTorch-backend repository (Triton Python backend, BLS): NGC's ensemble inputs in,
NVIDIA's llmapi model behind, token-length metrics recorded once per request.

Clients call it as they call NVIDIA's TensorRT-LLM ``ensemble`` (``text_input``, ``max_tokens``, ``top_k``,
``top_p``, ``seed``, ``stop_words``, ...). For each batch item it counts the prompt's tokens with the
checkpoint's tokenizer and records the admission (a prompt beyond ``max_input_len``, the limit the runtime
enforces, also counts as rejected), sends one request to the llmapi model (which batches in flight itself
and takes one prompt per request) with the inputs renamed per the ``input_map`` parameter
(``max_tokens:sampling_param_max_tokens,...``; inputs the llmapi model has no counterpart for are not
sent), counts the generated text's tokens and records the completion. It answers ``text_output``,
``num_input_tokens``, ``num_output_tokens`` and ``finish_reason`` (``length``, ``engine_limit`` or
``stop``, the words the TensorRT ensemble uses). Not decoupled: one response per request, so none of
this runs per token.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import token_metrics
import triton_python_backend_utils as pb_utils
from transformers import AutoTokenizer

LENGTH_ERRORS = (re.compile(r"[Pp]rompt length \(\d+\) exceeds"), re.compile(r"exceeds max_seq_len"),
                 re.compile(r"exceeds maximum (sequence|input) length"))


def _param(params: dict[str, Any], key: str, default: Any = None) -> Any:
    value = params.get(key, {}).get("string_value", "")
    return value if value not in ("", None) else default


def _texts(array: Any) -> list[str]:
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in array.reshape(-1)]


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        self.downstream = _param(params, "downstream_model", "tensorrt_llm")
        self.input_map = dict(pair.split(":", 1) for pair in _param(params, "input_map", "").split(",") if pair)
        self.tokenizer = AutoTokenizer.from_pretrained(_param(params, "tokenizer_dir"), trust_remote_code=False)
        self.max_input_len = int(_param(params, "max_input_len"))
        self.max_seq_len = int(_param(params, "max_seq_len"))
        self.metrics = token_metrics.TokenMetrics(
            model=_param(params, "model_label", args["model_name"]), max_input_len=self.max_input_len,
            max_seq_len=self.max_seq_len)

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(r) for r in requests]

    def _one(self, request: Any) -> Any:
        texts = _texts(pb_utils.get_input_tensor_by_name(request, "text_input").as_numpy())
        wanted = pb_utils.get_input_tensor_by_name(request, "max_tokens").as_numpy().reshape(-1).tolist()
        others: dict[str, Any] = {}
        for name, target in self.input_map.items():
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is not None and name not in ("max_tokens",):
                others[target] = tensor.as_numpy().reshape(len(texts), -1)
        outputs: list[bytes] = []
        counts: list[int] = []
        inputs: list[int] = []
        reasons: list[bytes] = []
        for i, text in enumerate(texts):
            n_in = len(self.tokenizer.encode(text))
            self.metrics.observe_admission(n_in, int(wanted[i]))
            predicted = n_in > self.max_input_len
            if predicted:
                self.metrics.observe_rejection(n_in)
            tensors = [pb_utils.Tensor("text_input", np.array([text.encode("utf-8")], dtype=np.object_)),
                       pb_utils.Tensor(self.input_map.get("max_tokens", "sampling_param_max_tokens"),
                                       np.array([int(wanted[i])], dtype=np.int32))]
            tensors += [pb_utils.Tensor(target, value[i]) for target, value in others.items()]
            answer = pb_utils.InferenceRequest(model_name=self.downstream, inputs=tensors,
                                               requested_output_names=["text_output"]).exec()
            if answer.has_error():
                message = answer.error().message()
                if not predicted and any(p.search(message) for p in LENGTH_ERRORS):
                    self.metrics.observe_rejection(n_in)
                return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message))
            text_out = _texts(pb_utils.get_output_tensor_by_name(answer, "text_output").as_numpy())[0]
            n_out = len(self.tokenizer.encode(text_out, add_special_tokens=False))
            reason = token_metrics.finish_reason(n_in, n_out, int(wanted[i]), self.max_seq_len)
            self.metrics.observe_completion(n_in, n_out, limit_stopped=(reason == "engine_limit"))
            outputs.append(text_out.encode("utf-8"))
            counts.append(n_out)
            inputs.append(n_in)
            reasons.append(reason.encode("utf-8"))
        batch = len(texts)
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("text_output", np.array(outputs, dtype=np.object_).reshape(batch, 1)),
            pb_utils.Tensor("num_input_tokens", np.array(inputs, dtype=np.int32).reshape(batch, 1)),
            pb_utils.Tensor("num_output_tokens", np.array(counts, dtype=np.int32).reshape(batch, 1)),
            pb_utils.Tensor("finish_reason", np.array(reasons, dtype=np.object_).reshape(batch, 1)),
        ])
