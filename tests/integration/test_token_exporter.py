"""The token exporter on the real tritonserver: requests of known lengths go through it to a small CPU
engine with length limits; the metrics port then shows exactly the expected histograms and counters."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from seasonal_engines.core import histograms, presets
from seasonal_engines.core.histograms import Histogram

MODELS = Path(__file__).resolve().parents[2] / "engine_jobs" / "seasonal_build" / "triton_models"
MAX_INPUT, MAX_SEQ = 300, 400

# A tiny engine: whitespace tokens, rejects long prompts with TensorRT-LLM's message, stops at max_seq_len,
# and ends early (an end token) when the prompt's first word is "eos".
ENGINE = '''
import json
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        p = {k: v["string_value"] for k, v in json.loads(args["model_config"])["parameters"].items()}
        self.max_input, self.max_seq = int(p["max_input_len"]), int(p["max_seq_len"])

    def execute(self, requests):
        out = []
        for r in requests:
            text = pb_utils.get_input_tensor_by_name(r, "text_input").as_numpy().reshape(-1)[0].decode()
            wanted = int(pb_utils.get_input_tensor_by_name(r, "max_tokens").as_numpy().reshape(-1)[0])
            n_in = len(text.split())
            if n_in > self.max_input:
                out.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(
                    f"Prompt length ({n_in}) exceeds maximum input length ({self.max_input})")))
                continue
            n, reason = wanted, "length"
            if n_in + n > self.max_seq:
                n, reason = self.max_seq - n_in, "engine_limit"
            if text.startswith("eos") and n > 3:
                n, reason = 3, "stop"
            words = " ".join(f"w{i}" for i in range(n))
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("text_output", np.array([[words.encode()]], dtype=np.object_)),
                pb_utils.Tensor("num_input_tokens", np.array([[n_in]], dtype=np.int32)),
                pb_utils.Tensor("num_output_tokens", np.array([[n]], dtype=np.int32)),
                pb_utils.Tensor("finish_reason", np.array([[reason.encode()]], dtype=np.object_))]))
        return out
'''

IO = '''
input [
  { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] },
  { name: "max_tokens" data_type: TYPE_INT32 dims: [ 1 ] }
]
output [
  { name: "text_output" data_type: TYPE_STRING dims: [ -1 ] },
  { name: "num_input_tokens" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "num_output_tokens" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "finish_reason" data_type: TYPE_STRING dims: [ 1 ] }
]
instance_group [ { count: 1 kind: KIND_CPU } ]
'''


def params(**kv: str | int) -> str:
    return "\n".join(f'parameters {{ key: "{k}" value: {{ string_value: "{v}" }} }}' for k, v in kv.items())


def repository(root: Path) -> Path:
    engine = root / "engine"
    (engine / "1").mkdir(parents=True)
    (engine / "1" / "model.py").write_text(ENGINE)
    (engine / "config.pbtxt").write_text(f'name: "engine"\nbackend: "python"\nmax_batch_size: 8\n{IO}\n'
                                         + params(max_input_len=MAX_INPUT, max_seq_len=MAX_SEQ))
    exporters = {
        # our ensemble's case: the downstream returns token counts and a finish reason
        "exporter_counts": params(downstream_model="engine", model_label="with-counts",
                                  downstream_outputs="text_output,num_input_tokens,num_output_tokens,finish_reason"),
        # NGC's case: text only; output tokens counted by the tokenizer, limit stops told by max_seq_len
        "exporter_text": params(downstream_model="engine", model_label="text-only", downstream_outputs="text_output",
                                tokenizer="whitespace", max_input_len=MAX_INPUT, max_seq_len=MAX_SEQ),
    }
    for name, extra in exporters.items():
        d = root / name
        shutil.copytree(MODELS / "token_exporter", d)
        shutil.copyfile(MODELS / "token_metrics.py", d / "1" / "token_metrics.py")
        shipped = (d / "config.pbtxt").read_text()
        config = re.sub(r'name: "token_exporter"', f'name: "{name}"', shipped)
        config = re.sub(r"max_batch_size: \d+", "max_batch_size: 8", config)
        config = "\n".join(line for line in config.splitlines() if not line.startswith("parameters"))
        if name == "exporter_counts":  # two instances (two stub processes) must share one set of series
            config = config.replace("count: 1 kind: KIND_CPU", "count: 2 kind: KIND_CPU")
        (d / "config.pbtxt").write_text(config + "\n" + extra + "\n")
    return root


def words(n: int, first: str = "x") -> str:
    return " ".join([first] + ["y"] * (n - 1))


def ask(client: httpclient.InferenceServerClient, model: str, text: str, max_tokens: int) -> str:
    t = httpclient.InferInput("text_input", [1, 1], "BYTES")
    t.set_data_from_numpy(np.array([[text.encode()]], dtype=np.object_))
    m = httpclient.InferInput("max_tokens", [1, 1], "INT32")
    m.set_data_from_numpy(np.array([[max_tokens]], dtype=np.int32))
    result = client.infer(model, [t, m], outputs=[httpclient.InferRequestedOutput("text_output")])
    assert result.as_numpy("num_output_tokens") is None  # only what the client asked for comes back
    return result.as_numpy("text_output").reshape(-1)[0].decode()


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    series = {}
    for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
        m = re.match(r"^(seasonal_\w+)\{([^}]*)\} (\S+)$", line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            series[(m.group(1), labels)] = float(m.group(3))
    return series


def histogram(series: dict, name: str, **labels: str) -> Histogram:
    want = set(labels.items())
    pairs = [(float(dict(k)["le"]), v) for (n, k), v in series.items()
             if n == f"{name}_bucket" and want <= set(k)]
    return histograms.from_buckets(pairs)


@pytest.mark.triton
def test_exporter_records_exact_lengths_and_censoring(tmp_path: Path, triton_factory) -> None:
    server = triton_factory(repository(tmp_path / "models"))
    client = httpclient.InferenceServerClient(server.http_url.removeprefix("http://"))
    rng = np.random.default_rng(4)
    # (prompt tokens, max_tokens, first word): ordinary, long prompts (rejected), long answers (limit stop),
    # an early end token (not a limit stop), and exact boundaries.
    cases = [(int(i), int(o), "x") for i, o in zip(rng.integers(1, 250, 40), rng.integers(1, 120, 40))]
    cases += [(MAX_INPUT + 1, 5, "x"), (1000, 5, "x"), (MAX_INPUT, 100, "x"), (350, 10, "x"), (200, 300, "x"),
              (100, 500, "eos"), (MAX_INPUT, MAX_SEQ - MAX_INPUT, "x"), (16, 17, "x"), (17, 16, "x"),
              (290, 150, "x"), (10, 395, "x")]
    for model in ("exporter_counts", "exporter_text"):
        for n_in, wanted, first in cases:
            if n_in > MAX_INPUT:
                with pytest.raises(InferenceServerException, match=r"Prompt length \(\d+\) exceeds"):
                    ask(client, model, words(n_in, first), wanted)
            else:
                assert len(ask(client, model, words(n_in, first), wanted).split()) <= wanted

    ran = [(i, o, f) for i, o, f in cases if i <= MAX_INPUT]
    served = [3 if f == "eos" and min(o, MAX_SEQ - i) > 3 else min(o, MAX_SEQ - i) for i, o, f in ran]
    stopped = sum(1 for (i, o, f), n in zip(ran, served) if f != "eos" and o > MAX_SEQ - i)
    rejected = len(cases) - len(ran)
    assert rejected == 3 and stopped == 3
    bounds = presets.SEASONAL.bounds
    expected = {
        "seasonal_request_input_tokens": histograms.from_values([c[0] for c in cases], bounds),
        "seasonal_request_max_tokens": histograms.from_values([c[1] for c in cases], bounds),
        "seasonal_request_output_tokens": histograms.from_values(served, bounds),
        "seasonal_request_sequence_tokens": histograms.from_values([i + n for (i, _, _), n in zip(ran, served)],
                                                                   bounds),
    }
    series = scrape(server.metrics_url)
    for label in ("with-counts", "text-only"):
        for name, want in expected.items():
            got = histogram(series, name, model=label)
            assert got == want, (label, name)
            assert series[(f"{name}_count", frozenset({("model", label)}))] == want.total
        assert series[("seasonal_requests_rejected_length_total", frozenset({("model", label)}))] == rejected
        assert series[("seasonal_requests_limit_stopped_total", frozenset({("model", label)}))] == stopped
        # the joint series: output length by the power of two at or above the prompt length
        for octave in ("16", "32", "256", "512"):
            in_octave = [n for (i, _, _), n in zip(ran, served) if (int(octave) // 2 if octave != "16" else 0) < i
                         <= int(octave)]
            got = histogram(series, "seasonal_request_output_tokens_by_input", model=label, input_le=octave)
            if in_octave:
                assert got == histograms.from_values(in_octave, presets.JOINT_OUTPUT_LAYOUT), (label, octave)
            else:
                assert got.bounds == ()
    limits = {dict(k)["limit"]: v for (n, k), v in series.items() if n == "seasonal_engine_limit_tokens"}
    assert limits == {"max_input_len": MAX_INPUT, "max_seq_len": MAX_SEQ}  # only the exporter that was told


def test_exporter_layouts_equal_the_operator_presets() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("token_metrics", MODELS / "token_metrics.py")
    assert spec and spec.loader
    tm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tm)
    assert (*tm.FINE_BOUNDS, float("inf")) == presets.SEASONAL.bounds
    assert (*tm.JOINT_OUTPUT_BOUNDS, float("inf")) == presets.JOINT_OUTPUT_LAYOUT
    assert (*tm.JOINT_INPUT_OCTAVES, float("inf")) == presets.JOINT_INPUT_OCTAVES
    names = {tm.INPUT: presets.SEASONAL.input_metric, tm.OUTPUT: presets.SEASONAL.output_metric,
             tm.SEQUENCE: presets.SEASONAL.sequence_metric, tm.MAX_TOKENS: presets.SEASONAL.max_tokens_metric}
    assert all(a == b for a, b in names.items())
    assert tm.REJECTED == presets.SEASONAL.rejected.metric  # type: ignore[union-attr]
    assert tm.LIMIT_STOPPED == presets.SEASONAL.limit_stopped.metric  # type: ignore[union-attr]
    assert json.dumps(tm.input_octave(16)) == '"16"' and tm.input_octave(17) == "32"
    assert tm.input_octave(200_000) == "+Inf"


@pytest.mark.triton
@pytest.mark.prometheus
def test_exporter_scraped_by_prometheus_gives_the_profile(tmp_path: Path, triton_factory, prometheus_factory) -> None:
    from datetime import datetime

    from seasonal_engines.adapters.prometheus import PrometheusTraffic
    from seasonal_engines.core import promql
    from seasonal_engines.core.traffic import Dimension, TrafficProfile
    from tests.testbed.prometheus import instant_query, wait_for_series

    server = triton_factory(repository(tmp_path / "models"))
    prom = prometheus_factory(scrape_targets=[server.metrics_url], scrape_interval="1s")
    wait_for_series(prom.url, 'seasonal_request_input_tokens_count{model="with-counts"}')  # a zero sample first
    client = httpclient.InferenceServerClient(server.http_url.removeprefix("http://"))
    lengths = [(20, 30), (100, 50), (250, 200), (5, 5), (400, 3)]
    for n_in, wanted in lengths:
        try:
            ask(client, "exporter_counts", words(n_in), wanted)
        except InferenceServerException:
            pass
    import time

    deadline = time.monotonic() + 30
    while True:  # until Prometheus has scraped all of them
        r = instant_query(prom.url, 'seasonal_request_input_tokens_count{model="with-counts"}')
        if r and float(r[0]["value"][1]) == len(lengths):
            break
        assert time.monotonic() < deadline, r
        time.sleep(0.5)
    # Evaluated at a scrape's own timestamp, with the zero sample inside the window, increase() has nothing
    # to extrapolate: the counts are exact.
    last = instant_query(prom.url, 'timestamp(seasonal_request_input_tokens_count{model="with-counts"})')
    at = datetime.fromtimestamp(float(last[0]["value"][1]), tz=UTC)
    profile = PrometheusTraffic(prom.url).window(presets.SEASONAL, [promql.matcher("model", "=", "with-counts")],
                                                 at, 300)
    assert isinstance(profile, TrafficProfile), profile
    assert profile.samples == pytest.approx(len(lengths), rel=1e-9)
    assert profile.censored_fraction == pytest.approx(2 / 5, rel=1e-9)  # 400 rejected, 250+200 > 400 stopped
    want = histograms.from_values([20, 100, 250, 5, 400], presets.SEASONAL.bounds)
    for q in (0.5, 0.9, 0.99):
        assert profile.quantile(Dimension.input, q) == pytest.approx(histograms.histogram_quantile(q, want),
                                                                     rel=1e-9)
    assert profile.sequence_source.value == "joint"
