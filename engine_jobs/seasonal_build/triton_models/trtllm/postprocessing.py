"""Postprocessing for the TensorRT-LLM ensemble (Triton Python backend): token ids -> text, why it stopped, and
each completed request's lengths recorded once.

The engine runs with ``exclude_input_in_output``, so ``output_ids`` hold generated tokens only and
``sequence_length`` counts them (first beam). ``finish_reason`` uses the same words as the CPU
stand-in: ``length`` (the client's max_tokens), ``engine_limit`` (prompt + output reached the
engine's ``max_seq_len``: the runtime clamps the requested output there, demand the engine cut short)
or ``stop`` (an end or stop token). The ensemble is not decoupled, so this runs once per request, after
the last token: the metrics add no work to the decode loop.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import token_metrics
import triton_python_backend_utils as pb_utils
from transformers import AutoTokenizer


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config["parameters"].items()}
        self.tokenizer = AutoTokenizer.from_pretrained(params["tokenizer_dir"], trust_remote_code=False)
        self.max_seq_len = int(params["max_seq_len"])
        limit = params.get("max_input_len")
        self.metrics = token_metrics.TokenMetrics(
            model=params.get("model_label") or args["model_name"], max_input_len=int(limit) if limit else None,
            max_seq_len=self.max_seq_len)

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(r) for r in requests]

    def _one(self, request: Any) -> Any:
        ids = pb_utils.get_input_tensor_by_name(request, "output_ids").as_numpy()  # [batch, beam, tokens]
        lengths = pb_utils.get_input_tensor_by_name(request, "sequence_length").as_numpy()  # [batch, beam]
        inputs = pb_utils.get_input_tensor_by_name(request, "input_lengths").as_numpy().reshape(-1)
        wanted = pb_utils.get_input_tensor_by_name(request, "max_tokens").as_numpy().reshape(-1)
        texts: list[bytes] = []
        counts: list[int] = []
        reasons: list[bytes] = []
        for i in range(ids.shape[0]):
            n = int(lengths[i][0])
            text = str(self.tokenizer.decode(ids[i][0][:n].tolist(), skip_special_tokens=True))
            texts.append(text.encode("utf-8"))
            counts.append(n)
            reason = token_metrics.finish_reason(int(inputs[i]), n, int(wanted[i]), self.max_seq_len)
            reasons.append(reason.encode("utf-8"))
            self.metrics.observe_completion(int(inputs[i]), n, limit_stopped=(reason == "engine_limit"))
        batch = len(texts)
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("text_output", np.array(texts, dtype=np.object_).reshape(batch, 1)),
            pb_utils.Tensor("num_input_tokens", inputs.astype(np.int32).reshape(batch, 1)),
            pb_utils.Tensor("num_output_tokens", np.array(counts, dtype=np.int32).reshape(batch, 1)),
            pb_utils.Tensor("finish_reason", np.array(reasons, dtype=np.object_).reshape(batch, 1)),
        ])
