"""Preprocessing for the TensorRT-LLM ensemble (Triton Python backend): text -> token ids, and admissions counted.

Tokenizes ``text_input`` with the checkpoint's tokenizer (copied next to the engine, parameter
``tokenizer_dir``), pads a batch with the pad id, passes ``max_tokens`` through as the engine's
``request_output_len`` and turns ``bad_words``/``stop_words`` into the backend's word-list tensors
(``[batch, 2, n]``: token ids in row 0, cumulative end offsets in row 1, padded with 0 and -1). End and
pad ids come from the request when given, else from the tokenizer (its eos token when it has no pad).

It records every request's prompt length and ``max_tokens`` once (``token_metrics``), before the engine
can refuse it, and counts the prompts longer than ``max_input_len`` (the limit the runtime enforces,
written from the plan) as rejected: the engine answers those with "Prompt length (X) exceeds maximum
input length (Y)". It does not refuse them itself; the engine does.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import token_metrics
import triton_python_backend_utils as pb_utils
from transformers import AutoTokenizer


def _param(params: dict[str, Any], key: str, default: Any = None) -> Any:
    value = params.get(key, {}).get("string_value", "")
    return value if value not in ("", None) else default


def word_lists(tokenizer: Any, rows: list[list[Any]] | None) -> Any:
    """``[batch, 2, n]`` int32 word lists; ``rows`` holds each item's words (None: no words at all)."""
    if rows is None:
        return None
    ids: list[list[int]] = []
    offsets: list[list[int]] = []
    for words in rows:
        flat: list[int] = []
        ends: list[int] = []
        for word in words:
            text = word.decode("utf-8", "replace") if isinstance(word, bytes) else str(word)
            tokens = tokenizer.encode(text, add_special_tokens=False) if text else []
            if tokens:
                flat += tokens
                ends.append(len(flat))
        ids.append(flat)
        offsets.append(ends)
    width = max(1, max(len(x) for x in ids))
    out = np.zeros((len(ids), 2, width), dtype=np.int32)
    out[:, 1, :] = -1
    for i, (flat, ends) in enumerate(zip(ids, offsets)):
        out[i, 0, :len(flat)] = flat
        out[i, 1, :len(ends)] = ends
    return out


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = config["parameters"]
        special = _param(params, "add_special_tokens", "true").lower()
        self.add_special_tokens = special in ("true", "1", "yes")
        self.tokenizer = AutoTokenizer.from_pretrained(_param(params, "tokenizer_dir"), padding_side="left",
                                                       trust_remote_code=False)
        eos = self.tokenizer.eos_token_id
        self.end_id = int(eos if eos is not None else 0)
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.end_id)
        limit = _param(params, "max_input_len")
        self.max_input_len = int(limit) if limit else None
        seq = _param(params, "max_seq_len")
        self.metrics = token_metrics.TokenMetrics(
            model=_param(params, "model_label", args["model_name"]), max_input_len=self.max_input_len,
            max_seq_len=int(seq) if seq else None)

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(r) for r in requests]

    def _one(self, request: Any) -> Any:
        texts = pb_utils.get_input_tensor_by_name(request, "text_input").as_numpy().reshape(-1)
        max_tokens = pb_utils.get_input_tensor_by_name(request, "max_tokens").as_numpy().reshape(-1, 1)
        ids = [self.tokenizer.encode(t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t),
                                     add_special_tokens=self.add_special_tokens) for t in texts]
        batch = len(ids)
        for x, wanted in zip(ids, max_tokens.reshape(-1)):
            self.metrics.observe_admission(len(x), int(wanted))
            if self.max_input_len is not None and len(x) > self.max_input_len:
                self.metrics.observe_rejection(len(x))
        width = max(1, max(len(x) for x in ids))
        padded = np.full((batch, width), self.pad_id, dtype=np.int32)
        for i, x in enumerate(ids):
            padded[i, :len(x)] = x
        lengths = np.array([[len(x)] for x in ids], dtype=np.int32)
        tensors = [
            pb_utils.Tensor("input_ids", padded),
            pb_utils.Tensor("input_lengths", lengths),
            pb_utils.Tensor("request_output_len", max_tokens.astype(np.int32)),
            pb_utils.Tensor("out_end_id", self._optional(request, "end_id", self.end_id, batch)),
            pb_utils.Tensor("out_pad_id", self._optional(request, "pad_id", self.pad_id, batch)),
        ]
        for name, output in (("bad_words", "bad_words_list"), ("stop_words", "stop_words_list")):
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            lists = word_lists(self.tokenizer, tensor.as_numpy().reshape(batch, -1).tolist()) if tensor else None
            if lists is None:
                lists = np.zeros((batch, 2, 0), dtype=np.int32)  # no words: an empty list, as upstream sends
            tensors.append(pb_utils.Tensor(output, lists))
        return pb_utils.InferenceResponse(output_tensors=tensors)

    @staticmethod
    def _optional(request: Any, name: str, default: int, batch: int) -> Any:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        if tensor is None:
            return np.full((batch, 1), default, dtype=np.int32)
        return tensor.as_numpy().reshape(batch, 1).astype(np.int32)
