"""``seasonal plan`` from a trace and from a real Prometheus holding the same traffic; the heat maps render."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from seasonal_engines.cli.main import main
from seasonal_engines.core import presets
from seasonal_engines.traces import openmetrics, read_trace

TRACES = Path(__file__).resolve().parents[2] / "examples" / "traces"
M_LARGE = TRACES / "servegen_m-large_14d.csv.xz"
DAY0 = 1767571200.0  # 2026-01-05 00:00 UTC
COMMON = ["--model", "llama-3.1-8b", "--gpu", "h100"]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["plan", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def assert_contract(d: dict) -> None:
    assert len(d["engine_hash"]) == 64
    for key in ("max_input_len", "max_seq_len", "max_batch_size", "max_num_tokens", "opt_num_tokens"):
        assert key in d["build"]
    assert 0 < d["coverage"]["input"] <= 1 and 0 < d["coverage"]["sequence"] <= 1
    assert {"weights_bytes", "kv_bytes_per_token", "kv_pool_tokens"} <= set(d["memory"])
    assert d["replicas"] >= 1


def assert_png(path: Path, min_width: int) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = matplotlib.image.imread(path)
    assert img.shape[1] >= min_width and img.shape[0] >= 400
    assert img[..., :3].std() > 0.05  # not a blank canvas
    return img


def test_plan_from_trace_evening_vs_morning_json_table_and_heatmap(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    evening = run_json(capsys, "--trace", str(M_LARGE), "--from-hour", "18", "--to-hour", "24", *COMMON,
                       "--heatmap", str(tmp_path / "evening.png"), "-o", str(tmp_path / "plan.json"))
    morning = run_json(capsys, "--trace", str(M_LARGE), "--from-hour", "6", "--to-hour", "12", *COMMON)
    assert_contract(evening)
    assert_contract(morning)
    assert evening["build"]["max_seq_len"] > morning["build"]["max_seq_len"]
    assert min(evening["coverage"].values()) >= 0.999 and min(morning["coverage"].values()) >= 0.999
    assert json.loads((tmp_path / "plan.json").read_text()) == evening
    img = assert_png(tmp_path / "evening.png", 1000)
    # The limit lines are drawn in red/orange: there must be strongly red pixels.
    red = (img[..., 0] > 0.8) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)
    assert red.sum() > 500

    served = evening["serving_model"]
    assert served["label"] == "modelled" and served["slo"] == {"ttft_p99_seconds": 2.0, "itl_p99_seconds": 0.1}
    assert served["planned"]["max_seq_len"] == evening["build"]["max_seq_len"]
    assert served["model_max"]["max_seq_len"] == 131072

    assert main(["plan", "--trace", str(M_LARGE), "--start", "0", "--end", "86400", *COMMON,
                 "--rate-scale", "1000"]) == 0
    table = capsys.readouterr().out
    for heading in ("Build", "Memory per GPU", "Capacity", "Serving model, MODELLED", "Runtime", "Why",
                    "engine_hash"):
        assert heading in table
    assert max(len(line) for line in table.splitlines()) <= 100
    assert "max_seq_len" in table and "covers" in table
    # At production rate the traffic-sized engine needs fewer replicas than the 128k engine, side by side.
    line = next(x for x in table.splitlines() if x.strip().startswith("this engine:"))
    ours, theirs = (int(part.split(":")[1].split()[0]) for part in line.split(";"))
    assert 1 <= ours < theirs


def test_plan_from_a_config_json_and_with_fp8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ckpt = tmp_path / "Meta-Llama-3.1-8B-Instruct"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
        "max_position_embeddings": 131072, "vocab_size": 128256,
        "rope_scaling": {"factor": 8.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}}))
    d = run_json(capsys, "--trace", str(M_LARGE), "--start", "0", "--end", "172800", "--model", str(ckpt),
                 "--gpu", "NVIDIA-L40S", "--quant", "fp8")
    assert d["model"]["name"] == "meta-llama-3.1-8b-instruct"
    assert d["memory"]["kv_bytes_per_token"] == 65536
    assert d["model"]["quantization"] == {"weights": "fp8", "kv_cache": "fp8"}
    assert d["checkpoint"]["method"] == "quantize"


@pytest.mark.parametrize(("argv", "message"), [
    (["--model", "llama-3-70b", "--gpu", "h100"], "smallest tensor parallelism that fits is tp=2"),
    (["--model", "llama-3.1-8b", "--gpu", "a100", "--quant", "fp8"], "FP8 tensor cores"),
    (["--model", "llama-3.1-8b", "--gpu", "h100", "--start", "0", "--end", "600"], "fewer than the 1000"),
    (["--model", "gpt-9", "--gpu", "h100"], "unknown model 'gpt-9'"),
    (["--model", "llama-3.1-8b", "--gpu", "h100", "--from-hour", "3"], "go together"),
], ids=["does-not-fit", "fp8-a100", "too-few", "unknown-model", "half-hours"])
def test_plan_errors_are_clean_and_actionable(capsys: pytest.CaptureFixture[str], argv: list[str],
                                              message: str) -> None:
    assert main(["plan", "--trace", str(M_LARGE), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seasonal plan: error: ") and message in err and "Traceback" not in err


@pytest.mark.prometheus
def test_plan_from_prometheus_matches_the_trace(prometheus_factory, capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    day = read_trace(M_LARGE).window(0, 86400).shifted(DAY0)
    text = openmetrics.to_text(day, presets.SEASONAL, 300.0, labels={"model": "large"}).removesuffix("# EOF\n")
    text += openmetrics.to_text(day, presets.VLLM, 300.0, labels={"model_name": "large"})
    server = prometheus_factory(text)
    at = str(DAY0 + 86400)
    live = run_json(capsys, "--prometheus", server.url, "--selector", 'model="large"', "--window", "6h", "--at", at,
                    *COMMON, "--heatmap", str(tmp_path / "joint.png"))
    offline = run_json(capsys, "--trace", str(M_LARGE), "--start", str(18 * 3600), "--end", "86400", *COMMON)
    assert_contract(live)
    assert live["traffic"]["sequence_source"] == "joint"
    assert live["traffic"]["samples"] == offline["traffic"]["samples"]
    assert live["build"] == offline["build"] and live["engine_hash"] == offline["engine_hash"]
    assert live["coverage"] == pytest.approx(offline["coverage"], abs=1e-9)
    assert_png(tmp_path / "joint.png", 1000)

    # vLLM's preset has no joint series: the sequence length is a conservative bound, drawn as marginals.
    marginal = run_json(capsys, "--prometheus", server.url, "--preset", "vllm", "--selector", 'model_name="large"',
                        "--window", "6h", "--at", at, *COMMON, "--heatmap", str(tmp_path / "marginals.png"))
    assert marginal["traffic"]["sequence_source"] == "bound"
    assert marginal["build"]["max_seq_len"] >= live["build"]["max_seq_len"]
    assert_png(tmp_path / "marginals.png", 1000)

    assert main(["plan", "--prometheus", server.url, "--selector", 'model="nobody"', "--window", "6h", "--at", at,
                 *COMMON]) == 2
    assert "no traffic to plan from" in capsys.readouterr().err
