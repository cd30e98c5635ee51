"""Loads NVIDIA's llmapi Triton model (TensorRT-LLM's PyTorch backend) from the container it runs in.

The repository carries our ``config.pbtxt`` and ``model.yaml`` (the plan's LLM() arguments); the model
code itself stays NVIDIA's, in the image (parameter ``llmapi_model_dir``, by default
``/app/all_models/llmapi/tensorrt_llm/1`` of the Triton TRT-LLM container). That model reads
``model.yaml`` from ``pb_utils.get_model_dir()``, which is this repository's version directory, so our
file is the one it reads. Nothing here runs per request.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any

DEFAULT_DIR = "/app/all_models/llmapi/tensorrt_llm/1"


def _nvidia_model(directory: str) -> Any:
    path = os.path.join(directory, "model.py")
    if not os.path.isfile(path):
        raise RuntimeError(f"{path} does not exist: serve the PyTorch backend from NVIDIA's Triton TRT-LLM "
                           "image (nvcr.io/nvidia/tritonserver:<yy.mm>-trtllm-python-py3), or set the "
                           "llmapi_model_dir parameter to where its llmapi model lives")
    if directory not in sys.path:
        sys.path.insert(0, directory)  # its model.py imports helpers.py from the same directory
    spec = importlib.util.spec_from_file_location("nvidia_llmapi_model", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TritonPythonModel


def _directory(config: dict[str, Any]) -> str:
    value = (config.get("parameters", {}).get("llmapi_model_dir") or {}).get("string_value")
    return str(value or DEFAULT_DIR)


class TritonPythonModel:
    @classmethod
    def auto_complete_config(cls, auto_complete_model_config: Any) -> Any:
        nvidia = _nvidia_model(_directory(auto_complete_model_config.as_dict()))
        return nvidia.auto_complete_config(auto_complete_model_config)

    def initialize(self, args: dict[str, Any]) -> None:
        nvidia = _nvidia_model(_directory(json.loads(args["model_config"])))
        self._model = nvidia()
        self._model.initialize(args)

    def execute(self, requests: list[Any]) -> Any:
        return self._model.execute(requests)

    def finalize(self) -> None:
        finalize = getattr(self._model, "finalize", None)
        if finalize is not None:
            finalize()
