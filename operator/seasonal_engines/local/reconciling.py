"""One evaluation of the quickstart's InferenceService against the local world: gather, decide, apply.

The same shape as ``seasonal_engines.reconciling`` (the Kubernetes flavour), with the local world in
place of the cluster: profiles come from the real Prometheus over the wall windows that hold the
simulated windows' requests (``timing``), the build Job is a local process (``builds``), the rollout a
model reload in the real Triton (``serving``), and ``core.decisions.decide`` decides, unchanged. Season
histories are read once per simulated hour, as the operator does, and only for the seasons that matter
now (active, due, next). What happened is kept in a journal (for the display and the summary) and one
record per evaluation (for the summary and the picture).

Imperative shell: it calls the adapters; nothing here decides.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from seasonal_build import engine_store
from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.api import durations
from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.api.status import InferenceServiceStatus
from seasonal_engines.core import (
    actions,
    decisions,
    observations,
    planners,
    presets,
    promql,
    reasons,
    season_schedules,
    seasons,
    status_codec,
    times,
)
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable
from seasonal_engines.local import timing
from seasonal_engines.local.builds import LocalBuilds
from seasonal_engines.local.serving import LocalServing

SEASON_PROFILE_TTL = timedelta(hours=1)
LOCAL_NAME = "quickstart"  # the owner recorded in the local engine store's references
WALL_SPAN = re.compile(r" (in|between) \d{4}-\d\d-\d\dT\S+ \.\. \d{4}-\d\d-\d\dT[^\s;,]+")
# Events whose text the journal writes itself (from the action or the world), in the stand-in's words.
OWN_WORDS = {reasons.BUILD_STARTED, reasons.ROLLOUT_STARTED, reasons.BUILD_SUCCEEDED, reasons.ROLLOUT_SUCCEEDED}


@dataclass(frozen=True)
class JournalEntry:
    at: datetime     # simulated
    kind: str        # build, built, rollover, serving, season, drift, warning, info
    text: str


@dataclass(frozen=True)
class EvaluationRecord:
    at: datetime
    phase: str
    active_season: str | None
    samples: float | None
    sequence_p99: float | None
    sequence_p999: float | None
    rate_rps: float | None          # simulated requests per second of the replayed stream
    drift_state: str | None
    beyond_fraction: float | None
    serving_hash: str | None


def _short(engine_hash: str) -> str:
    return engine_hash[:12]


@dataclass
class LocalReconciler:
    spec: InferenceServiceSpec
    clock: timing.SimClock
    prometheus: PrometheusTraffic
    builds: LocalBuilds
    serving: LocalServing
    data_since: datetime                                      # simulated: Prometheus holds nothing before
    origin: datetime                                          # simulated: day 0 00:00 of the trace
    status: InferenceServiceStatus = field(default_factory=InferenceServiceStatus)
    journal: list[JournalEntry] = field(default_factory=list)
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    _season_cache: dict[str, tuple[datetime, TrafficProfile | TrafficUnavailable]] = field(default_factory=dict)
    _history: tuple[datetime, HourlyHistory | TrafficUnavailable] | None = None

    def __post_init__(self) -> None:
        self.preset = presets.from_spec(self.spec.traffic)
        self.matchers = promql.from_spec(self.spec.traffic.selector)
        self.window_s = durations.seconds(self.spec.traffic.window)
        self.bootstrap = planners.bootstrap_for_spec(self.spec)

    # --- the cycle ----------------------------------------------------------------------------------

    def evaluate(self, now: datetime) -> actions.Decision:
        obs = self.gather(now)
        decision = decisions.decide(obs, planners.for_spec(self.spec), self.bootstrap)
        self._remember(obs, decision, now)  # first: a build's success is news before the rollover it allows
        self.apply(decision, now)
        self.status = decision.status
        return decision

    # --- gather ------------------------------------------------------------------------------------

    def gather(self, now: datetime) -> observations.Observation:
        status = self.status
        trailing = self._profile([(now - timedelta(seconds=self.window_s), now)])
        store = self.builds.published(now) | {e.hash for e in status.engine_history}
        if status.serving_engine is not None:
            store.add(status.serving_engine.hash)
        build = self.builds.observe(status.build.job_name, now) if status.build else None
        rollout = None
        if status.rollout is not None and status.target_engine is not None:
            rollout = self.serving.observe(status.target_engine, now)
        return observations.Observation(now=now, generation=1, spec=self.spec, spec_error=None, status=status,
                                     traffic=trailing, season_traffic=self._season_profiles(now),
                                     store=frozenset(store), build=build, rollout=rollout,
                                     owner=f"local/{LOCAL_NAME}", history=self._discovery_history(now))

    def _profile(self, windows: list[tuple[datetime, datetime]]) -> TrafficProfile | TrafficUnavailable:
        wall = self.clock.wall_windows(windows, self.data_since)
        if not wall:
            return TrafficUnavailable(reasons.NO_DATA, "the window lies before the quickstart began: Prometheus holds "
                                      "nothing for it")
        profile = self.prometheus.windows(
            self.preset, self.matchers, [promql.Window(end, (end - start).total_seconds()) for start, end in wall],
            min_samples=1, peak_percentile=self.spec.traffic.peak_percentile)
        if isinstance(profile, TrafficUnavailable):
            # Its message names wall-clock instants; say which simulated window it was about instead.
            text = WALL_SPAN.sub("", profile.message)
            span = (f"{timing.clock_text(windows[0][0], self.origin)} .. "
                    f"{timing.clock_text(windows[-1][1], self.origin)}")
            return TrafficUnavailable(profile.reason, f"{text} (simulated {span})")
        return timing.to_simulated(profile, self.clock, self.spec.traffic.peak_percentile)

    def _season_profiles(self, now: datetime) -> dict[str, TrafficProfile | TrafficUnavailable]:
        out: dict[str, TrafficProfile | TrafficUnavailable] = {}
        for season in seasons.profiles_needed(self.spec, self.status.build_durations_seconds, now):
            cached = self._season_cache.get(season.name)
            if cached is not None and cached[0] > now:
                out[season.name] = cached[1]
                continue
            windows = seasons.season_history_query_windows(season, now, timedelta(hours=1))
            if not windows:
                continue
            profile = self._profile(windows)
            self._season_cache[season.name] = (now + SEASON_PROFILE_TTL, profile)
            out[season.name] = profile
        return out

    # --- spec.seasonDiscovery: the hourly history (a separate addition) -------------------------------

    def _discovery_history(self, now: datetime) -> HourlyHistory | TrafficUnavailable | None:
        """The hourly history in simulated hours: one range query over the wall clock, stepped by what a
        simulated hour takes there, cached as the operator caches it."""
        sd = self.spec.season_discovery
        if sd is None:
            return None
        if self._history is not None and self._history[0] > now:
            return self._history[1]
        history = self.prometheus.history(self.preset, self.matchers, self.clock.wall_datetime(now),
                                          sd.history_hours(), step_s=self.clock.wall_seconds(3600.0))
        if isinstance(history, HourlyHistory):
            history = dataclasses.replace(history, end=now)
        ttl = season_schedules.history_ttl_s(history, durations.seconds(self.spec.traffic.evaluation_interval))
        self._history = (now + timedelta(seconds=ttl), history)
        return history

    # --- apply --------------------------------------------------------------------------------------

    def apply(self, decision: actions.Decision, now: datetime) -> None:
        for action in decision.actions:
            if isinstance(action, actions.StartBuild):
                build = self.builds.start(action, now)
                self._note(now, "build", f"build started: CPU stand-in engine {_short(build.engine_hash)} "
                           f"({build.envelope.summary()}) for {build.season or 'the trailing window'} "
                           f"[{action.reason}]")
            elif isinstance(action, actions.RecordReferences):
                # The local store is on this machine: the record is written here, as the Job would in a cluster.
                refs = action.references
                self.builds.store.write_references(refs.model, engine_store.References(
                    owner=refs.owner, serving=refs.serving, seasons=dict(refs.seasons), history=refs.history,
                    keep=refs.keep))
            elif isinstance(action, actions.RollOut):
                ro = self.serving.roll_out(action, now)
                verb = "rollback" if action.rollback else "rollover"
                self._note(now, "rollover", f"{verb} started: loading CPU stand-in engine {_short(ro.engine_hash)} "
                           f"({ro.envelope.summary()}) into Triton [{ro.reason or 'Rollback'}]")

    # --- memory -------------------------------------------------------------------------------------

    def _remember(self, obs: observations.Observation, decision: actions.Decision, now: datetime) -> None:
        new = decision.status
        if new.active_season != obs.status.active_season and new.active_season is not None:
            self._note(now, "season", f"season {new.active_season} begins")
        for event in decision.events:
            if event.reason == reasons.BUILD_SUCCEEDED and obs.status.build is not None:
                job = obs.status.build
                built = next((b for b in reversed(self.builds.builds) if b.job_name == job.job_name), None)
                took = (now - times.parse_time(job.started_at)).total_seconds() / 60
                real = f"; the build process took {built.process_seconds:.1f} s" if built and \
                    built.process_seconds is not None else ""
                self._note(now, "built", f"built: CPU stand-in engine {_short(job.engine_hash)} in {took:.0f} "
                           f"simulated minutes{real}")
            elif event.reason == reasons.ROLLOUT_SUCCEEDED and new.serving_engine is not None:
                engine = new.serving_engine
                ro = self.serving.current
                load = f", Triton loaded it in {ro.load_seconds:.1f} s" if ro and ro.load_seconds else ""
                self._note(now, "serving", f"serving: CPU stand-in engine {_short(engine.hash)} "
                           f"({status_codec.envelope_of(engine).summary()}) for "
                           f"{engine.season or 'the trailing window'}"
                           f"{load}")
            elif event.reason not in OWN_WORDS:
                kind = "drift" if event.reason in (reasons.COVERAGE_BREACH, reasons.ENVELOPE_WASTEFUL) else (
                    "warning" if event.type == "Warning" else "info")
                self._note(now, kind, f"{event.reason}: {event.message}")
        t = new.traffic if isinstance(obs.traffic, TrafficProfile) else None
        self.evaluations.append(EvaluationRecord(
            at=now, phase=new.phase, active_season=new.active_season,
            samples=t.samples if t else None, sequence_p99=t.sequence.p99 if t else None,
            sequence_p999=t.sequence.p999 if t else None,
            rate_rps=obs.traffic.rate_rps if isinstance(obs.traffic, TrafficProfile) else None,
            drift_state=new.drift.state if new.drift else None,
            beyond_fraction=new.drift.beyond_fraction if new.drift else None,
            serving_hash=new.serving_engine.hash if new.serving_engine else None))

    def _note(self, at: datetime, kind: str, text: str) -> None:
        self.journal.append(JournalEntry(at, kind, text))


__all__ = ["LocalReconciler", "JournalEntry", "EvaluationRecord"]
