"""What a quickstart run is asked to do: its settings, checked, and the InferenceService it runs.

Bad input fails here, before anything starts, with the flag or field that is wrong and what would do.
Reads the spec file; nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from seasonal_engines.api import validation
from seasonal_engines.api.spec import Backend, InferenceServiceSpec, Mode
from seasonal_engines.local.serving import MODEL_NAME

ORIGIN = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: day 0 00:00 of the trace


@dataclass(frozen=True)
class Settings:
    spec_path: Path
    trace_path: Path
    out_dir: Path
    minutes: float = 8.0
    speed: float = 576.0              # simulated seconds per wall second: a day in 2.5 minutes
    days: float | None = None         # simulated span to replay at most (None: what the budget allows)
    start_day: int = 0
    start_hour: float = 9.0
    max_rps: float = 30.0             # mean requests per wall second sent to the stand-in
    build_minutes: float = 20.0       # simulated
    rollout_minutes: float = 5.0      # simulated
    warmup_minutes: float = 60.0      # simulated, before the first request
    seed: int = 0
    plain: bool = False
    origin: datetime = ORIGIN

    def check(self) -> None:
        if not 0.5 <= self.minutes <= 60:
            raise ValueError(f"--minutes must be between 0.5 and 60, got {self.minutes:g}")
        if not 1 <= self.speed <= 100_000:
            raise ValueError(f"--speed must be between 1 and 100000 simulated seconds per second, got {self.speed:g}")
        if self.days is not None and not self.days > 0:
            raise ValueError(f"--days must be positive, got {self.days:g}")
        if not 0 <= self.start_hour < 24:
            raise ValueError(f"--start-hour must be in [0, 24), got {self.start_hour:g}")
        if self.start_day < 0:
            raise ValueError(f"--start-day must be 0 or more, got {self.start_day}")
        for name, value in (("--build-minutes", self.build_minutes), ("--rollout-minutes", self.rollout_minutes),
                            ("--warmup-minutes", self.warmup_minutes), ("--max-rps", self.max_rps)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value:g}")


def load_spec(path: Path) -> InferenceServiceSpec:
    """The quickstart's InferenceService, checked for what the local mode can run."""
    if not path.is_file():
        raise FileNotFoundError(f"--spec {path} does not exist; the quickstart's own is examples/quickstart.yaml")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    if len(docs) != 1:
        raise ValueError(f"--spec {path}: expected one InferenceService, found {len(docs)} documents")
    spec = validation.parse_manifest(docs[0])
    if spec.serving.model_name != MODEL_NAME:
        raise ValueError(f"--spec {path}: spec.serving.modelName must be {MODEL_NAME!r}, the CPU stand-in's model "
                         f"name (got {spec.serving.model_name!r})")
    if spec.mode != Mode.auto:
        raise ValueError(f"--spec {path}: spec.mode must be Auto; Advisory builds and rolls out nothing")
    if spec.engine.backend != Backend.tensorrt:
        raise ValueError(f"--spec {path}: spec.engine.backend must be tensorrt (built here as the CPU stand-in); "
                         "pytorch builds no engine")
    if spec.traffic.preset != "seasonal":
        raise ValueError(f"--spec {path}: spec.traffic.preset must be seasonal: the CPU stand-in exports those "
                         "metrics")
    return spec


__all__ = ["Settings", "load_spec", "ORIGIN"]
