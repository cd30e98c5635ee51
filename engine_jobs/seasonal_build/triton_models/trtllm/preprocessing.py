"""Preprocessing for the TensorRT-LLM ensemble (Triton Python backend): text -> token ids.

Tokenizes ``text_input`` with the checkpoint's tokenizer (copied next to the engine, parameter
``tokenizer_dir``), pads a batch with the pad id, and passes ``max_tokens`` through as the
engine's ``request_output_len``. End and pad ids come from the request when given, else from the
tokenizer. Length limits are not checked here: the engine rejects over-long prompts itself.
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils
from transformers import AutoTokenizer


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        tokenizer_dir = config["parameters"]["tokenizer_dir"]["string_value"]
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, padding_side="left", trust_remote_code=False)
        eos = self.tokenizer.eos_token_id
        self.end_id = int(eos if eos is not None else 0)
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.end_id)

    def execute(self, requests):
        return [self._one(r) for r in requests]

    def _one(self, request):
        texts = pb_utils.get_input_tensor_by_name(request, "text_input").as_numpy().reshape(-1)
        max_tokens = pb_utils.get_input_tensor_by_name(request, "max_tokens").as_numpy().reshape(-1, 1)
        ids = [self.tokenizer.encode(t.decode("utf-8") if isinstance(t, bytes) else str(t)) for t in texts]
        batch = len(ids)
        width = max(len(x) for x in ids)
        padded = np.full((batch, width), self.pad_id, dtype=np.int32)
        for i, x in enumerate(ids):
            padded[i, :len(x)] = x
        lengths = np.array([[len(x)] for x in ids], dtype=np.int32)
        end_id = self._optional(request, "end_id", self.end_id, batch)
        pad_id = self._optional(request, "pad_id", self.pad_id, batch)
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("input_ids", padded),
            pb_utils.Tensor("input_lengths", lengths),
            pb_utils.Tensor("request_output_len", max_tokens.astype(np.int32)),
            pb_utils.Tensor("out_end_id", end_id),
            pb_utils.Tensor("out_pad_id", pad_id),
        ])

    @staticmethod
    def _optional(request, name, default, batch):
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        if tensor is None:
            return np.full((batch, 1), default, dtype=np.int32)
        return tensor.as_numpy().reshape(batch, 1).astype(np.int32)
