"""The model repository a TensorRT plan gets, served by the real tritonserver with the CPU stand-in in place of the
engine: NGC's request tensors go in, text comes out, and the token metrics reach the operator's own query.

``python -m seasonal_build repository --engine cpu-stand-in`` writes the same ensemble, preprocessing and
postprocessing models a build publishes, with ``tensorrt_llm`` served by our stand-in under the same
config.pbtxt (only the backend differs). The pre/postprocessing models need a Hugging Face tokenizer: the
test builds a tiny one (``tiny_tokenizer``) whose contract is in docs/trtllm-contract.md: every
whitespace-separated word of its vocabulary is one token, no special tokens are added, decoding joins
tokens with spaces, ``</s>`` is the end token and ``<pad>`` the pad token.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as http
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2
from tritonclient.utils import InferenceServerException

from seasonal_build import cli
from seasonal_engines.core import histograms, presets, promql
from tests.engine_jobs import samples

MAX_INPUT, MAX_SEQ, MAX_BATCH = 64, 128, 4
VOCAB = [f"w{i}" for i in range(400)] + ["stop", "never"]


def tiny_tokenizer(directory: Path) -> Path:
    """A word-level Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) for VOCAB."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{w: 4 + i for i, w in enumerate(VOCAB)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    directory.mkdir(parents=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
        "pad_token": "<pad>", "unk_token": "<unk>"}))
    return directory


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{(start + i) % 400}" for i in range(n))


def ngc_inputs(prompt: str, max_tokens: int, **extra: object) -> list[http.InferInput]:
    """A request as clients of NVIDIA's ensemble send it: every value shaped [1, 1] (or [1, n] for word lists)."""
    types = {"text_input": "BYTES", "max_tokens": "INT32", "top_k": "INT32", "top_p": "FP32", "temperature": "FP32",
             "seed": "UINT64", "min_tokens": "INT32", "length_penalty": "FP32", "repetition_penalty": "FP32",
             "presence_penalty": "FP32", "frequency_penalty": "FP32", "beam_width": "INT32",
             "return_log_probs": "BOOL", "stream": "BOOL", "stop_words": "BYTES", "bad_words": "BYTES",
             "end_id": "INT32", "pad_id": "INT32", "return_num_input_tokens": "BOOL",
             "return_num_output_tokens": "BOOL"}
    numpy_types = {"BYTES": np.object_, "INT32": np.int32, "FP32": np.float32, "UINT64": np.uint64, "BOOL": np.bool_}
    values = {"text_input": prompt, "max_tokens": max_tokens, **extra}
    out = []
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        items = [v.encode() if isinstance(v, str) else v for v in items]
        array = np.array([items], dtype=numpy_types[types[name]])
        tensor = http.InferInput(name, list(array.shape), types[name])
        tensor.set_data_from_numpy(array)
        out.append(tensor)
    return out


def answer(result: http.InferResult) -> dict[str, object]:
    return {"text": result.as_numpy("text_output").reshape(-1)[0].decode(),
            "input": int(result.as_numpy("num_input_tokens").reshape(-1)[0]),
            "output": int(result.as_numpy("num_output_tokens").reshape(-1)[0]),
            "reason": result.as_numpy("finish_reason").reshape(-1)[0].decode()}


def seasonal_series(metrics_url: str, label: str) -> dict[str, float]:
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    out = {}
    for m in re.finditer(r'^(seasonal_\w+)\{([^}]*)\} ([0-9.e+]+)$', text, re.M):
        if f'model="{label}"' in m.group(2) and "le=" not in m.group(2) and "input_le" not in m.group(2):
            out[m.group(1)] = float(m.group(3))
    return out


@pytest.fixture()
def repository(tmp_path: Path) -> tuple[Path, dict]:
    plan = samples.small_plan_dict(MAX_INPUT, MAX_SEQ, MAX_BATCH, max_num_tokens=MAX_INPUT, chunked=False)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    repo = tmp_path / "repository"
    code = cli.main(["repository", "--plan", str(plan_file), "--out", str(repo), "--engine", "cpu-stand-in",
                     "--tokenizer-dir", str(tiny_tokenizer(tmp_path / "tokenizer"))])
    assert code == cli.EXIT_OK
    return repo, plan


def test_every_generated_config_parses_as_a_model_config(repository: tuple[Path, dict]) -> None:
    repo, _ = repository
    names = set()
    for path in repo.glob("*/config.pbtxt"):
        config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
        assert config.name == path.parent.name
        names.add(config.name)
    assert names == {"ensemble", "preprocessing", "tensorrt_llm", "postprocessing"}
    for model in ("preprocessing", "postprocessing"):
        assert (repo / model / "1" / "token_metrics.py").is_file()


@pytest.mark.triton
@pytest.mark.prometheus
def test_triton_serves_ngc_requests_and_the_seasonal_query_sees_them(
        repository: tuple[Path, dict], triton_factory, prometheus_factory) -> None:
    repo, plan = repository
    label = plan["model"]["name"]
    server = triton_factory(repo)
    client = http.InferenceServerClient(server.http_url.removeprefix("http://"))
    assert client.is_model_ready("ensemble") and client.is_model_ready("tensorrt_llm")
    params = client.get_model_config("ensemble")["parameters"]
    assert params["engine_hash"]["string_value"] == plan["engine_hash"]
    prom = prometheus_factory(scrape_targets=[server.metrics_url], scrape_interval="1s")
    from tests.testbed.prometheus import instant_query, wait_for_series

    wait_for_series(prom.url, f'seasonal_request_input_tokens_count{{model="{label}"}}')  # zero first

    # NGC's sampling inputs all accepted; the stand-in stops after the stop word and never emits a bad word.
    full = client.infer("ensemble", ngc_inputs(
        words(10), 20, top_k=1, top_p=0.9, temperature=0.7, seed=42, min_tokens=1, length_penalty=1.0,
        repetition_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0, beam_width=1, return_log_probs=False,
        stream=False, return_num_input_tokens=True, return_num_output_tokens=True,
        stop_words=["w3"], bad_words=["w1"]))
    got = answer(full)
    assert got["input"] == 10
    assert got["text"] == "w0 w2 w3" and got["output"] == 3 and got["reason"] == "stop"
    assert answer(client.infer("ensemble", ngc_inputs(words(5), 4))) == {
        "text": "w0 w1 w2 w3", "input": 5, "output": 4, "reason": "length"}
    # The engine's max_seq_len cuts the output short; the finish reason says so.
    limited = answer(client.infer("ensemble", ngc_inputs(words(60), 100, seed=7)))
    assert (limited["output"], limited["reason"]) == (MAX_SEQ - 60, "engine_limit")
    with pytest.raises(InferenceServerException, match=re.escape(
            f"Prompt length ({MAX_INPUT + 1}) exceeds maximum input length ({MAX_INPUT})")):
        client.infer("ensemble", ngc_inputs(words(MAX_INPUT + 1), 5))

    lengths = [(10, 3), (5, 4), (60, MAX_SEQ - 60)]
    series = seasonal_series(server.metrics_url, label)
    assert series["seasonal_request_input_tokens_count"] == 4  # admissions: the refused prompt too
    assert series["seasonal_request_input_tokens_sum"] == 10 + 5 + 60 + MAX_INPUT + 1
    assert series["seasonal_request_max_tokens_sum"] == 20 + 4 + 100 + 5
    assert series["seasonal_request_output_tokens_count"] == 3
    assert series["seasonal_request_sequence_tokens_sum"] == sum(i + o for i, o in lengths)
    assert series["seasonal_requests_rejected_length_total"] == 1
    assert series["seasonal_requests_limit_stopped_total"] == 1

    deadline = time.monotonic() + 30
    query = f'seasonal_request_input_tokens_count{{model="{label}"}}'
    while True:  # until Prometheus has scraped all four
        r = instant_query(prom.url, query)
        if r and float(r[0]["value"][1]) == 4:
            break
        assert time.monotonic() < deadline, r
        time.sleep(0.5)
    from seasonal_engines.adapters.prometheus import PrometheusTraffic
    from seasonal_engines.core.traffic import Dimension, TrafficProfile

    last = instant_query(prom.url, f"timestamp({query})")
    at = datetime.fromtimestamp(float(last[0]["value"][1]), tz=UTC)
    profile = PrometheusTraffic(prom.url).window(presets.SEASONAL, [promql.matcher("model", "=", label)], at, 300)
    assert isinstance(profile, TrafficProfile), profile
    assert profile.samples == pytest.approx(4, rel=1e-9)
    assert profile.censored_fraction == pytest.approx(2 / 4, rel=1e-9)  # one refused, one cut at max_seq_len
    want = histograms.from_values([10, 5, 60, MAX_INPUT + 1], presets.SEASONAL.bounds)
    assert profile.quantile(Dimension.input, 0.5) == pytest.approx(histograms.histogram_quantile(0.5, want))
    assert profile.sequence_source.value == "joint"
