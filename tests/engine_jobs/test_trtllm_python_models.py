"""The TensorRT-LLM ensemble's Python models (tokenize, word lists, detokenize, finish reason, token metrics), run
with stand-in modules.

The real models run inside Triton with ``transformers`` (tests/engine_jobs/test_generated_repository_in_triton.py);
here ``triton_python_backend_utils`` and ``transformers`` are small fakes, so tensor shapes, the word-list format
and what each model records are checked in isolation.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from typing import Any

import numpy as np
import pytest

from seasonal_build import pbtxt, triton_repo
from tests.engine_jobs import samples


class Tensor:
    def __init__(self, name: str, array: np.ndarray) -> None:
        self._name, self._array = name, array

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class Response:
    def __init__(self, output_tensors: list[Tensor], error: Any = None) -> None:
        self.outputs = {t.name(): t.as_numpy() for t in output_tensors}
        self.error = error


class Request:
    def __init__(self, **tensors: np.ndarray) -> None:
        self.tensors = tensors


class Metric:
    def __init__(self, family: MetricFamily, labels: dict, buckets: Any = None) -> None:
        self.family, self.labels, self.values = family, labels, []

    def observe(self, value: float) -> None:
        self.values.append(value)

    def increment(self, value: float) -> None:
        self.values.append(value)

    def set(self, value: float) -> None:
        self.values = [value]


class MetricFamily:
    HISTOGRAM, COUNTER, GAUGE = "histogram", "counter", "gauge"
    created: dict[str, MetricFamily] = {}

    def __init__(self, name: str, description: str, kind: str) -> None:
        self.name, self.metrics = name, []
        MetricFamily.created[name] = self

    def Metric(self, labels: dict, buckets: Any = None) -> Metric:  # noqa: N802 - Triton's name
        metric = Metric(self, labels, buckets)
        self.metrics.append(metric)
        return metric


def observed(name: str) -> list[float]:
    return [v for m in MetricFamily.created[name].metrics for v in m.values]


class WordTokenizer:
    """Words <-> ids: ``w<k>`` is id k; eos is 2; no pad token."""

    eos_token_id, pad_token_id = 2, None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [int(w[1:]) for w in text.split()]

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return " ".join(f"w{i}" for i in ids)


@pytest.fixture()
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    pb = types.ModuleType("triton_python_backend_utils")
    pb.Tensor = Tensor
    pb.InferenceResponse = Response
    pb.MetricFamily = MetricFamily
    MetricFamily.created = {}
    pb.get_input_tensor_by_name = lambda request, name: (
        Tensor(name, request.tensors[name]) if name in request.tensors else None)
    tf = types.ModuleType("transformers")
    tf.AutoTokenizer = types.SimpleNamespace(from_pretrained=lambda *a, **k: WordTokenizer())
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", pb)
    monkeypatch.setitem(sys.modules, "transformers", tf)
    monkeypatch.syspath_prepend(str(triton_repo.MODELS_DIR))  # the models import token_metrics
    monkeypatch.delitem(sys.modules, "token_metrics", raising=False)


def load(name: str, model_name: str) -> Any:
    path = triton_repo.trtllm_model_files()[model_name]["model.py"]
    spec = importlib.util.spec_from_file_location(f"trtllm_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = pbtxt.loads(pbtxt.dumps(triton_repo.configs(samples.plan(), "/e", "/t")[model_name]))
    as_json = {"parameters": {k: {"string_value": v} for k, v in pbtxt.parameter_map(config).items()}}
    model = module.TritonPythonModel()
    model.initialize({"model_config": json.dumps(as_json), "model_name": model_name})
    return model


def test_preprocessing_pads_a_batch_and_passes_limits_through(fake_runtime: None) -> None:
    model = load("pre", triton_repo.PRE)
    request = Request(text_input=np.array([[b"w5 w6 w7"], [b"w9"]], dtype=np.object_),
                      max_tokens=np.array([[16], [4]], dtype=np.int32))
    (response,) = model.execute([request])
    out = response.outputs
    assert out["input_ids"].tolist() == [[5, 6, 7], [9, 2, 2]]  # padded with eos: the tokenizer has no pad
    assert out["input_lengths"].tolist() == [[3], [1]]
    assert out["request_output_len"].tolist() == [[16], [4]]
    assert out["out_end_id"].tolist() == [[2], [2]] and out["out_end_id"].dtype == np.int32
    assert out["stop_words_list"].shape == (2, 2, 0)  # no words: an empty list, as upstream sends
    assert observed("seasonal_request_input_tokens") == [3, 1]
    assert observed("seasonal_request_max_tokens") == [16, 4]


def test_preprocessing_writes_word_lists_in_the_backends_format(fake_runtime: None) -> None:
    model = load("pre", triton_repo.PRE)
    request = Request(text_input=np.array([[b"w5"], [b"w9"]], dtype=np.object_),
                      max_tokens=np.array([[4], [4]], dtype=np.int32),
                      stop_words=np.array([[b"w7 w8", b"w3"], [b"w4", b""]], dtype=np.object_))
    (response,) = model.execute([request])
    lists = response.outputs["stop_words_list"]
    # [batch, 2, n]: ids back to back, then cumulative end offsets padded with -1 (upstream _to_word_list_format).
    assert lists.tolist() == [[[7, 8, 3], [2, 3, -1]], [[4, 0, 0], [1, -1, -1]]]
    assert lists.dtype == np.int32


def test_preprocessing_counts_a_prompt_beyond_the_runtime_limit_as_rejected(fake_runtime: None) -> None:
    model = load("pre", triton_repo.PRE)
    limit = model.max_input_len
    long = " ".join(["w1"] * (limit + 1))
    model.execute([Request(text_input=np.array([[long.encode()]], dtype=np.object_),
                           max_tokens=np.array([[1]], dtype=np.int32))])
    assert observed("seasonal_requests_rejected_length_total") == [1.0]
    assert observed("seasonal_request_input_tokens") == [limit + 1]


@pytest.mark.parametrize("inputs,generated,wanted,reason", [
    (10, 5, 5, "length"),  # the client's max_tokens
    (8190, 2, 100, "engine_limit"),  # max_seq_len 8192 reached first
    (10, 3, 100, "stop"),  # end of sequence
], ids=["client limit", "engine limit", "eos"])
def test_postprocessing_decodes_and_names_why_generation_stopped(fake_runtime: None, inputs: int, generated: int,
                                                                 wanted: int, reason: str) -> None:
    model = load("post", triton_repo.POST)
    ids = np.zeros((1, 1, 8), dtype=np.int32)
    ids[0, 0, :generated] = np.arange(generated) + 10
    request = Request(output_ids=ids, sequence_length=np.array([[generated]], dtype=np.int32),
                      input_lengths=np.array([[inputs]], dtype=np.int32), max_tokens=np.array([[wanted]], np.int32))
    (response,) = model.execute([request])
    out = response.outputs
    assert out["text_output"][0][0].decode() == " ".join(f"w{10 + i}" for i in range(generated))
    assert out["num_input_tokens"].tolist() == [[inputs]] and out["num_output_tokens"].tolist() == [[generated]]
    assert out["finish_reason"][0][0].decode() == reason
    assert observed("seasonal_request_output_tokens") == [generated]
    assert observed("seasonal_request_sequence_tokens") == [inputs + generated]
    assert observed("seasonal_requests_limit_stopped_total") == ([1.0] if reason == "engine_limit" else [])
