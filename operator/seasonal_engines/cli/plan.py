"""``seasonal plan``: plan an engine from a trace file or a Prometheus window, print it, draw its heat map.

The shell around ``core.sizing``: reads the trace or asks Prometheus, reads a config.json when given one,
reads the clock for ``--at`` (default now), then prints the plan as a terminal table or as plan.json, and
optionally writes the plan file and the ISL x OSL heat map. All sizing decisions are in ``core.sizing``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.api import durations
from seasonal_engines.api import spec as api
from seasonal_engines.cli import traffic as traffic_cli  # one parser for --at
from seasonal_engines.core import histograms, poisson, traffic
from seasonal_engines.core.serving import predictions
from seasonal_engines.core.sizing import gpus, models, planning
from seasonal_engines.core.sizing.errors import PlanningError
from seasonal_engines.core.sizing.gpus import GIB
from seasonal_engines.core.sizing.plans import ModelRef, Plan
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

TABLE_WIDTH = 100
DEFAULT_SLO = predictions.Slo(ttft_p99_s=2.0, itl_p99_s=0.1)
WEIGHT_FORMATS = [q.value for q in api.WeightQuantization]
KV_FORMATS = [q.value for q in api.KvCacheQuantization]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(
        name, help="plan an engine build from a trace or a Prometheus window",
        description="Size a TensorRT-LLM engine to observed traffic: limits from the window's quantiles, batch "
                    "and token budgets from GPU memory, replicas from the peak rate. Prints a table, or plan.json "
                    "with --json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("traffic (one of --trace or --prometheus)")
    src.add_argument("--trace", type=Path, help="per-request trace file (CSV or JSON lines)")
    src.add_argument("--from-hour", type=float, help="with --trace: first hour of day of the window (0-24)")
    src.add_argument("--to-hour", type=float, help="with --trace: hour of day the window ends (wraps past "
                     "midnight when smaller than --from-hour)")
    src.add_argument("--start", type=float, help="with --trace: window start, in the trace's seconds")
    src.add_argument("--end", type=float, help="with --trace: window end, in the trace's seconds")
    src.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    src.add_argument("--preset", default="seasonal", help="metric preset with --prometheus (seasonal, vllm, nim, "
                     "dynamo, triton-trtllm)")
    src.add_argument("--selector", action="append", default=[], metavar='LABEL="VALUE"',
                     help="label matcher with --prometheus (repeatable; = != =~ !~)")
    src.add_argument("--window", default="1h", help="trailing window with --prometheus (e.g. 1h, 6h, 1d)")
    src.add_argument("--at", help="end of the Prometheus window: ISO 8601 or Unix seconds (default: now)")
    m = p.add_argument_group("model and hardware")
    m.add_argument("--model", required=True, help="model preset (" + ", ".join(models.PRESETS) + ") or a path to "
                   "a Hugging Face config.json (or the checkpoint directory holding it)")
    m.add_argument("--model-name", help="name for a config.json model (default: its directory's name)")
    m.add_argument("--gpu", required=True, help="GPU preset (" + ", ".join(gpus.PRESETS) + ", h100, a100, ...) or "
                   "its nvidia.com/gpu.product label")
    m.add_argument("--tp", type=int, default=1, help="tensor parallel size")
    m.add_argument("--pp", type=int, default=1, help="pipeline parallel size")
    m.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    m.add_argument("--quant", default="none", choices=WEIGHT_FORMATS, help="weight quantization; fp8 also "
                   "quantizes the KV cache to fp8 unless --kv-quant says otherwise")
    m.add_argument("--kv-quant", choices=KV_FORMATS, help="KV cache dtype (default: fp8 with --quant fp8, else auto)")
    m.add_argument("--backend", default="tensorrt", choices=list(planning.BACKENDS))
    m.add_argument("--trtllm-version", default="1.2.1")
    m.add_argument("--image", default=api.DEFAULT_IMAGE)
    s = p.add_argument_group("sizing policy")
    defaults = api.SizingPolicy()
    s.add_argument("--input-quantile", type=float, default=defaults.input_quantile)
    s.add_argument("--sequence-quantile", type=float, default=defaults.sequence_quantile)
    s.add_argument("--headroom", type=float, default=defaults.headroom)
    s.add_argument("--max-beyond-fraction", type=float, default=defaults.max_beyond_fraction)
    s.add_argument("--max-batch-size", type=int, help="fix max_batch_size instead of deriving it")
    s.add_argument("--min-samples", type=int, default=planning.DEFAULT_MIN_SAMPLES,
                   help="refuse windows with fewer requests")
    s.add_argument("--no-chunked-context", dest="chunked_context", action="store_false",
                   help="plan without chunked context: every admitted prompt must then fit in max_num_tokens")
    s.add_argument("--season", help="season name recorded in the plan")
    v = p.add_argument_group("serving model (modelled, not measured: a simulation of TensorRT-LLM's batching "
                             "calibrated on NVIDIA's published throughput)")
    v.add_argument("--slo-ttft-p99", type=float, default=DEFAULT_SLO.ttft_p99_s, metavar="SECONDS",
                   help="p99 time to first token the replicas must meet (spec.rollout.slo.ttftP99Seconds)")
    v.add_argument("--slo-itl-p99", type=float, default=DEFAULT_SLO.itl_p99_s, metavar="SECONDS",
                   help="p99 inter-token latency the replicas must meet (spec.rollout.slo.itlP99Seconds)")
    v.add_argument("--rate-scale", type=float, default=1.0, help="multiply the window's request rates (for "
                   "traces published scaled down, e.g. 1000 for the ServeGen m-large file)")
    v.add_argument("--no-serving-model", dest="serving_model", action="store_false",
                   help="skip the predicted latency, throughput and replicas (a few seconds)")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print plan.json instead of the table")
    o.add_argument("--output", "-o", type=Path, help="also write plan.json to this file")
    o.add_argument("--heatmap", type=Path, metavar="FILE.png", help="draw the ISL x OSL heat map with the "
                   "engine's limits")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.trace is None) == (args.prometheus is None):
        raise ValueError("give exactly one traffic source: --trace FILE or --prometheus URL")
    model, model_ref = _model(args)
    gpu = gpus.preset(args.gpu)
    policy = _policy(args)
    requests: tuple[NDArray[Any], NDArray[Any]] | None = None
    profile: TrafficProfile | TrafficUnavailable
    if args.trace is not None:
        profile, requests = _trace_profile(args)
    else:
        profile = _prometheus_profile(args)
    kv_quant = args.kv_quant or ("fp8" if args.quant == "fp8" else "auto")
    result = planning.plan(profile, model, gpu, dtype=args.dtype, weights_quant=args.quant, kv_quant=kv_quant,
                           tp=args.tp, pp=args.pp, policy=policy, backend=args.backend, image=args.image,
                           trtllm_version=args.trtllm_version, model_ref=model_ref, season=args.season,
                           min_samples=args.min_samples, chunked_context=args.chunked_context)
    doc = result.to_json()
    serving: ServingComparison | None = None
    if args.serving_model:
        assert isinstance(profile, TrafficProfile)
        serving = compare_serving(args, result, profile, model, gpu, policy, model_ref, kv_quant)
        doc["serving_model"] = serving.to_json()
    if args.output:
        args.output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if args.heatmap:
        from seasonal_engines.pictures import heatmap  # matplotlib only when a picture is asked for

        assert isinstance(profile, TrafficProfile)
        heatmap.render_plan(args.heatmap, result, profile, requests=requests, window=_window_text(args))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(format_table(result, serving=serving))
        if args.heatmap:
            print(f"\nheat map: {args.heatmap}")
    return 0


@dataclass(frozen=True)
class ServingComparison:
    """The serving model's predictions for the planned engine and for the model-max engine, on the window's
    traffic at its peak (times ``--rate-scale``)."""

    slo: predictions.Slo
    peak_rps: float
    rate_scale: float
    planned: predictions.Prediction
    model_max: predictions.Prediction | None
    model_max_refused: str | None

    def to_json(self) -> dict[str, Any]:
        return {"label": predictions.LABEL, "peak_rps": round(self.peak_rps, 6), "rate_scale": self.rate_scale,
                "slo": {"ttft_p99_seconds": self.slo.ttft_p99_s, "itl_p99_seconds": self.slo.itl_p99_s},
                "planned": self.planned.to_json(),
                "model_max": self.model_max.to_json() if self.model_max else None,
                "model_max_refused": self.model_max_refused}


def compare_serving(args: argparse.Namespace, result: Plan, profile: TrafficProfile, model: models.ModelFacts,
                    gpu: gpus.GpuFacts, policy: api.SizingPolicy, model_ref: ModelRef,
                    kv_quant: str) -> ServingComparison:
    """Predict the planned engine and the engine at the model's full context on the same traffic."""
    if not args.rate_scale > 0:
        raise ValueError(f"--rate-scale must be positive, got {args.rate_scale}")
    try:
        slo = predictions.Slo(args.slo_ttft_p99, args.slo_itl_p99)
    except ValueError as exc:
        raise ValueError(f"--slo-ttft-p99/--slo-itl-p99: {exc}") from None
    # The peak of the scaled mean (Poisson p99 of one second), not the scaled peak: fluctuations shrink as
    # the rate grows.
    peak = profile.peak_rps if args.rate_scale == 1 else poisson.peak_rate(profile.rate_rps * args.rate_scale)
    planned = predictions.for_plan(result, profile.input, profile.output, peak, slo)
    n = 1000
    inputs = np.full(n, max(1, model.max_context - 1), dtype=np.int64)
    full = traffic.profile_from_requests(profile.start, profile.end, inputs, np.ones(n, dtype=np.int64))
    try:
        widest = planning.plan(full, model, gpu, dtype=args.dtype, weights_quant=args.quant, kv_quant=kv_quant,
                               tp=args.tp, pp=args.pp, policy=policy, backend=args.backend, image=args.image,
                               trtllm_version=args.trtllm_version, model_ref=model_ref, min_samples=1,
                               chunked_context=args.chunked_context)
    except PlanningError as exc:
        return ServingComparison(slo, peak, args.rate_scale, planned, None, str(exc))
    return ServingComparison(slo, peak, args.rate_scale, planned,
                             predictions.for_plan(widest, profile.input, profile.output, peak, slo), None)


def _window_text(args: argparse.Namespace) -> str | None:
    if args.trace is None:
        end = traffic_cli.parse_time(args.at).isoformat()[:19] + " UTC" if args.at else "now"
        return f"{args.window} ending {end} from {args.prometheus}"
    text = str(args.trace.name)
    if args.from_hour is not None:
        text += f", hours {args.from_hour:g}-{args.to_hour:g} of every day"
    elif args.start is not None or args.end is not None:
        text += f", seconds {args.start if args.start is not None else 'start'} .. " \
                f"{args.end if args.end is not None else 'end'}"
    return text


def _model(args: argparse.Namespace) -> tuple[models.ModelFacts, ModelRef]:
    text = args.model
    path = Path(text)
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"--model {text}: no such config.json")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"--model {path} is not JSON ({exc.msg} at line {exc.lineno})") from None
        name = args.model_name or _model_name(path.resolve().parent.name)
        return models.from_hf_config(name, config), ModelRef(name, {"pvc": {"path": str(path.parent)}})
    facts = models.preset(text)
    return facts, ModelRef(facts.name)


def _model_name(raw: str) -> str:
    """A store-safe model name (lowercase letters, digits, '-', '.') from a directory name."""
    name = re.sub(r"[^a-z0-9.-]+", "-", raw.lower()).strip("-.")
    return name[:63] or "model"


def _policy(args: argparse.Namespace) -> api.SizingPolicy:
    try:
        return api.SizingPolicy(input_quantile=args.input_quantile, sequence_quantile=args.sequence_quantile,
                                headroom=args.headroom, max_beyond_fraction=args.max_beyond_fraction,
                                max_batch_size=args.max_batch_size)
    except Exception as exc:  # pydantic's ValidationError: report it as bad input
        raise ValueError(f"sizing policy: {exc}") from None


def _trace_profile(args: argparse.Namespace) -> tuple[TrafficProfile, tuple[NDArray[Any], NDArray[Any]]]:
    from seasonal_engines.traces import read_trace
    from seasonal_engines.traces.readers import to_datetime

    trace = read_trace(args.trace)
    if len(trace) == 0:
        raise ValueError(f"trace {args.trace} holds no requests")
    hours = args.from_hour is not None or args.to_hour is not None
    span = args.start is not None or args.end is not None
    if hours and span:
        raise ValueError("use either --from-hour/--to-hour or --start/--end, not both")
    covered: float | None = None
    if hours:
        if args.from_hour is None or args.to_hour is None or not (0 <= args.from_hour <= 24 and
                                                                    0 <= args.to_hour <= 24):
            raise ValueError("--from-hour and --to-hour go together, each between 0 and 24")
        covered = hours_covered(trace.first_s, trace.last_s, args.from_hour, args.to_hour)
        trace = trace.hours_of_day(args.from_hour, args.to_hour)
    elif span:
        start = trace.first_s if args.start is None else args.start
        end = trace.last_s if args.end is None else args.end
        if not end > start:
            raise ValueError(f"--end ({end}) must be after --start ({start})")
        trace = trace.window(start, end)
    start_dt, end_dt = to_datetime(trace.first_s), to_datetime(trace.last_s)
    if not trace.last_s > trace.first_s:
        raise ValueError("the trace window is empty: widen --start/--end or the hours")
    bounds = histograms.log_buckets()
    inp, out = trace.input_tokens, trace.output_tokens
    profile = traffic.profile_from_histograms(
        start_dt, end_dt, histograms.from_values(inp, bounds), histograms.from_values(out, bounds),
        histograms.from_values(inp.astype(np.float64) + out, bounds), covered_s=covered,
        notes=["from a trace: lengths are exact per request; requests the recording system refused are not in "
               "it"])
    return profile, (inp, out)


def hours_covered(first_s: float, last_s: float, lo: float, hi: float) -> float:
    """Seconds of ``[first_s, last_s]`` whose hour of day is in ``[lo, hi)`` (wrapping when ``lo > hi``)."""
    spans = [(lo, hi)] if lo <= hi else [(lo, 24.0), (0.0, hi)]
    total = 0.0
    for day in range(int(math.floor(first_s / 86400)), int(math.floor(last_s / 86400)) + 1):
        for a, b in spans:
            s, e = day * 86400 + a * 3600, day * 86400 + b * 3600
            total += max(0.0, min(e, last_s) - max(s, first_s))
    return total


def _prometheus_profile(args: argparse.Namespace) -> TrafficProfile | TrafficUnavailable:
    from seasonal_engines.adapters.prometheus import PrometheusTraffic
    from seasonal_engines.core import presets, promql

    if args.from_hour is not None or args.start is not None:
        raise ValueError("--from-hour/--start select part of a trace; with --prometheus use --window and --at")
    matchers = [promql.parse_matcher(text) for text in args.selector]
    end = traffic_cli.parse_time(args.at) if args.at else datetime.now(UTC)
    source = PrometheusTraffic(args.prometheus)
    return source.window(presets.get(args.preset), matchers, end, durations.seconds(args.window), min_samples=1,
                         peak_percentile=0.99)


# --- the table -------------------------------------------------------------------------------------------


def _rows(title: str, rows: list[tuple[str, str]], width: int = TABLE_WIDTH) -> list[str]:
    """A titled block of ``key  value`` rows, keys aligned, long values wrapped under themselves."""
    key_width = max(len(k) for k, _ in rows)
    out = [title]
    for k, v in rows:
        lead = f"  {k.ljust(key_width)}  "
        out += textwrap.wrap(v, width=width, initial_indent=lead, subsequent_indent=" " * len(lead),
                             break_on_hyphens=False) or [lead.rstrip()]
    return out


def _latency(p: predictions.Prediction, what: str) -> str:
    a, b = (p.ttft_p50_s, p.ttft_p99_s) if what == "ttft" else (p.itl_p50_s * 1e3, p.itl_p99_s * 1e3)
    return f"{a:.2f} / {b:.2f} s" if what == "ttft" else f"{a:.1f} / {b:.1f} ms"


def _replicas(p: predictions.Prediction) -> str:
    if p.replicas is None:
        return "none meets the SLO"
    return f"{p.replicas} ({p.replicas * p.gpus_per_replica} GPUs)"


def serving_rows(c: ServingComparison, width: int = TABLE_WIDTH) -> list[str]:
    """The side-by-side block of the planned and the model-max engine."""
    cols = [("this engine", c.planned)] + ([("model-max engine", c.model_max)] if c.model_max else [])
    key_w, col_w = 20, 24
    scaled = f" (rates x{c.rate_scale:g})" if c.rate_scale != 1 else ""
    lines = _wrap(f"Serving model, MODELLED: peak {c.peak_rps:,.2f} req/s{scaled}, "
                  f"{c.slo.describe()}", "", "  ", width)
    lines.append("  " + " " * key_w + "".join(name.ljust(col_w) for name, _ in cols).rstrip())
    rows: list[tuple[str, Callable[[predictions.Prediction], str]]] = [
            ("max_seq_len", lambda p: f"{p.max_seq_len:,}"), ("scheduler", lambda p: p.scheduler),
            ("TTFT p50 / p99", lambda p: _latency(p, "ttft")), ("ITL p50 / p99", lambda p: _latency(p, "itl")),
            ("tokens/s per GPU", lambda p: f"{p.output_tokens_per_s_per_gpu:,.0f} at max load"),
            ("replicas at peak", _replicas)]
    for key, fmt in rows:
        lines.append("  " + key.ljust(key_w) + "".join(fmt(p).ljust(col_w) for _, p in cols).rstrip())
    if c.model_max is not None and c.planned.replicas is not None:
        other = (f"{c.model_max.replicas}" if c.model_max.replicas is not None else "none meets the SLO")
        lines.append(f"  this engine: {c.planned.replicas} replica{'s' if c.planned.replicas > 1 else ''}; a "
                     f"{c.model_max.max_seq_len:,}-token engine: {other}")
    elif c.model_max_refused:
        lines += _wrap(f"model-max engine: not plannable ({c.model_max_refused})", "  ", "    ", width)
    return lines


def format_table(plan: Plan, width: int = TABLE_WIDTH, serving: ServingComparison | None = None) -> str:
    """The plan for a terminal: sections of aligned rows, then the reasons and warnings wrapped to ``width``."""
    p, b, t = plan.predictions, plan.build, plan.traffic
    quant = plan.weights_quant if plan.kv_quant == "auto" else f"{plan.weights_quant}, KV {plan.kv_quant}"
    lines = _rows(f"Engine {plan.engine_id}" + (f" for season {plan.season}" if plan.season else ""), [
        ("model", f"{plan.model_ref.name}, {plan.dtype}, quantization {quant}, tp={plan.tp} pp={plan.pp}"),
        ("GPU", f"{plan.gpu.product} (SM {plan.gpu.sm})"),
        ("backend", f"{plan.backend}, TensorRT-LLM {plan.trtllm_version}"),
        ("window", f"{t.start[:19]} .. {t.end[:19]} UTC"),
        ("traffic", f"{t.samples:,.0f} requests, {p.rate_rps:.3f} req/s (peak {p.peak_rps:.2f}), sequence lengths "
                    f"{t.sequence_source}"),
    ])
    lines.append("")
    opt = "unset (multiple_profiles)" if b.opt_num_tokens is None else str(b.opt_num_tokens)
    lines += _rows("Build" if plan.builds_engine else "Runtime limits (no build)", [
        ("max_input_len", f"{b.max_input_len:>7}   covers {p.coverage_input:.3%} of prompts"),
        ("max_seq_len", f"{b.max_seq_len:>7}   covers {p.coverage_sequence:.3%} of prompt+output"),
        ("max_batch_size", f"{b.max_batch_size:>7}"),
        ("max_num_tokens", f"{b.max_num_tokens:>7}"),
        ("opt_num_tokens", f"{opt:>7}"),
    ] + ([("plugins", f"gemm {b.gemm_plugin}, fp8 FMHA {_on(b.use_fp8_context_fmha)}, multiple profiles "
                      f"{_on(b.multiple_profiles)}, {b.tokens_per_block} tokens/block")] if plan.builds_engine else []))
    lines.append("")
    lines += _rows("Memory per GPU", [
        ("GPU", f"{plan.gpu.memory_bytes / GIB:8.1f} GiB"),
        ("weights", f"{p.weights_bytes / GIB:8.1f} GiB"),
        ("activations", f"{p.activation_bytes / GIB:8.2f} GiB (estimate)"),
        ("KV per token", f"{p.kv_bytes_per_token:8,d} bytes"),
        ("KV pool", f"{p.kv_pool_tokens:8,d} tokens ({p.kv_pool_bytes / GIB:.1f} GiB)"),
    ])
    lines.append("")
    lines += _rows("Capacity", [
        ("sequences at p50", f"{p.concurrent_sequences_p50:8,d}  ({p.sequence_p50:,.0f} tokens)"),
        ("sequences at p99", f"{p.concurrent_sequences_p99:8,d}  ({p.sequence_p99:,.0f} tokens)"),
        ("request latency", f"{p.request_seconds:8.2f} s (estimate: TTFT {p.ttft_seconds * 1e3:.0f} ms, "
                            f"ITL {p.itl_seconds * 1e3:.1f} ms)"),
        ("peak concurrency", f"{p.peak_concurrency:8.1f}"),
        ("replicas", f"{p.replicas:8d}"),
    ])
    lines.append("")
    if serving is not None:
        lines += serving_rows(serving, width)
        lines.append("")
    lines += _rows("Runtime", [(k, _compact(v)) for k, v in plan.runtime.items()])
    if plan.checkpoint is not None:
        lines += ["", f"Checkpoint ({plan.checkpoint.method})"]
        lines += _wrap(f"{plan.checkpoint.script} {' '.join(plan.checkpoint.argv())}", "  ", "    ", width)
    lines += ["", "Why"]
    for line in plan.explanation:
        lines += _wrap(line, "  - ", "    ", width)
    if plan.warnings:
        lines += ["", "Warnings"]
        for w in plan.warnings:
            lines += _wrap(w, "  ! ", "    ", width)
    lines += ["", f"engine_hash {plan.engine_hash}"]
    return "\n".join(lines)


def _wrap(text: str, first: str, rest: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or [first.rstrip()]


def _on(flag: str) -> str:
    return {"enable": "on", "disable": "off"}.get(flag, flag)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": ")) if isinstance(value, (dict, list, bool)) else str(value)


if __name__ == "__main__":  # pragma: no cover
    from seasonal_engines.cli.main import main

    sys.exit(main(["plan", *sys.argv[1:]]))
