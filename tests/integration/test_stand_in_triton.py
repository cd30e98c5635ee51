"""The CPU stand-in, served by the real tritonserver: answers inside its envelope, refuses or stops outside it.

The plan's limits are small (max_input_len 64 = max_num_tokens without chunked context, max_seq_len 128,
max_batch_size 4) so that whitespace-word prompts cross them. Built with the real entrypoint
(``python -m seasonal_build build --backend cpu-stand-in``) into a store, served from the published
engine's model repository.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as http
from tritonclient.utils import InferenceServerException

from seasonal_build import cli, engine_store, manifests
from tests.engine_jobs import samples
from tests.testbed import triton

pytestmark = pytest.mark.triton
MAX_INPUT, MAX_SEQ, MAX_BATCH = 64, 128, 4
DECODE_MS = 15


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[http.InferenceServerClient, triton.TritonServer,
                                                                     engine_store.StoredEngine]]:
    work = tmp_path_factory.mktemp("stand-in")
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(samples.small_plan_dict(MAX_INPUT, MAX_SEQ, MAX_BATCH, max_num_tokens=64)))
    store = work / "store"
    code = cli.main(["build", "--plan", str(plan_file), "--store", str(store), "--backend", "cpu-stand-in",
                     "--decode-ms-per-token", str(DECODE_MS)])
    assert code == cli.EXIT_OK
    (engine,) = engine_store.EngineStore(store).list()
    server = triton.start_triton(engine.model_repository, work / "triton")
    client = http.InferenceServerClient(server.http_url.removeprefix("http://"), concurrency=16)
    try:
        yield client, server, engine
    finally:
        client.close()
        server.stop()


def inputs(prompts: list[str], max_tokens: list[int]) -> list[http.InferInput]:
    text = http.InferInput("text_input", [len(prompts), 1], "BYTES")
    text.set_data_from_numpy(np.array([[p.encode()] for p in prompts], dtype=np.object_))
    limit = http.InferInput("max_tokens", [len(prompts), 1], "INT32")
    limit.set_data_from_numpy(np.array([[m] for m in max_tokens], dtype=np.int32))
    return [text, limit]


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def ask(client: http.InferenceServerClient, prompt: str, max_tokens: int) -> dict[str, object]:
    result = client.infer("ensemble", inputs([prompt], [max_tokens]))
    return {"text": result.as_numpy("text_output")[0][0].decode(),
            "input": int(result.as_numpy("num_input_tokens")[0][0]),
            "output": int(result.as_numpy("num_output_tokens")[0][0]),
            "reason": result.as_numpy("finish_reason")[0][0].decode()}


def test_it_is_published_and_served_as_a_stand_in_never_as_tensorrt_llm(served) -> None:
    client, _, engine = served
    assert engine.manifest["backend"] == "cpu-stand-in"
    assert engine.manifest["description"] == manifests.STAND_IN_DESCRIPTION
    assert not list(engine.path.glob("engine/rank*.engine"))
    assert client.is_model_ready("ensemble")
    params = client.get_model_config("ensemble")["parameters"]
    assert params["engine_kind"]["string_value"] == "cpu-stand-in"
    assert params["description"]["string_value"] == "CPU stand-in, not a TensorRT-LLM engine"


def test_requests_inside_the_envelope_are_answered(served) -> None:
    client, _, _ = served
    assert ask(client, words(10), 5) == {"text": "tok0 tok1 tok2 tok3 tok4", "input": 10, "output": 5,
                                         "reason": "length"}
    at_limit = ask(client, words(MAX_INPUT), MAX_SEQ - MAX_INPUT)
    assert (at_limit["input"], at_limit["output"], at_limit["reason"]) == (MAX_INPUT, MAX_SEQ - MAX_INPUT, "length")


def test_a_prompt_beyond_max_input_len_is_rejected_like_the_runtime_does(served) -> None:
    client, _, _ = served
    with pytest.raises(InferenceServerException, match=re.escape(
            f"Prompt length ({MAX_INPUT + 1}) exceeds maximum input length ({MAX_INPUT})")):
        ask(client, words(MAX_INPUT + 1), 5)


def test_generation_stops_at_max_seq_len_and_says_why(served) -> None:
    client, _, _ = served
    answer = ask(client, words(60), 100)
    assert answer["output"] == MAX_SEQ - 60 and answer["reason"] == "engine_limit"
    assert answer["text"].split()[-1] == f"tok{MAX_SEQ - 61}"


def test_a_batch_larger_than_max_batch_size_is_refused(served) -> None:
    client, _, _ = served
    with pytest.raises(InferenceServerException, match="batch"):
        client.infer("ensemble", inputs([words(3)] * (MAX_BATCH + 1), [2] * (MAX_BATCH + 1)))


def test_concurrent_requests_run_at_most_max_batch_size_at_once(served) -> None:
    client, _, _ = served
    before = {b["batch_size"]: b["compute_infer"]["count"]
              for b in client.get_inference_statistics("ensemble")["model_stats"][0]["batch_stats"]}
    pending = [client.async_infer("ensemble", inputs([words(8)], [10])) for _ in range(12)]
    results = [p.get_result() for p in pending]
    assert all(r.as_numpy("finish_reason")[0][0] == b"length" for r in results)
    after = {b["batch_size"]: b["compute_infer"]["count"]
             for b in client.get_inference_statistics("ensemble")["model_stats"][0]["batch_stats"]}
    executed = {size: after[size] - before.get(size, 0) for size in after if after[size] > before.get(size, 0)}
    assert sum(size * count for size, count in executed.items()) == 12
    assert max(executed) <= MAX_BATCH
    assert max(executed) > 1  # the queue filled while a batch decoded: requests were batched, not serialised


def metric_values(server: triton.TritonServer) -> dict[str, float]:
    """The stand-in's ``seasonal_*`` series for its model label, by name (histograms: ``_count``)."""
    text = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    out = {}
    for m in re.finditer(r'^(seasonal_\w+)\{([^}]*)\} ([0-9.e+]+)$', text, re.M):
        labels = m.group(2)
        if 'model="llama-3-8b"' in labels and "le=" not in labels:  # no buckets, no by-input series
            limit = re.search(r'limit="(\w+)"', labels)
            out[m.group(1) + (f":{limit.group(1)}" if limit else "")] = float(m.group(3))
    return out


def test_token_metrics_count_every_admission_including_censored_ones(served) -> None:
    client, server, _ = served
    before = metric_values(server)
    with pytest.raises(InferenceServerException):
        ask(client, words(MAX_INPUT + 7), 3)  # refused: counted at admission and as rejected
    ask(client, words(50), 200)  # stopped by the engine at max_seq_len
    ask(client, words(5), 2)  # runs to the client's max_tokens
    after = metric_values(server)
    delta = {k: after[k] - before.get(k, 0.0) for k in after}
    assert delta["seasonal_request_input_tokens_count"] == 3
    assert delta["seasonal_request_max_tokens_count"] == 3
    assert delta["seasonal_request_output_tokens_count"] == 2
    assert delta["seasonal_request_sequence_tokens_sum"] == (50 + MAX_SEQ - 50) + (5 + 2)
    assert delta["seasonal_requests_rejected_length_total"] == 1
    assert delta["seasonal_requests_limit_stopped_total"] == 1
    assert after["seasonal_engine_limit_tokens:max_input_len"] == MAX_INPUT
    assert after["seasonal_engine_limit_tokens:max_seq_len"] == MAX_SEQ
