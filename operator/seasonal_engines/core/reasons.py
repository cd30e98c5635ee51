"""Reasons: the CamelCase words that conditions and Events carry, one constant per decision.

A reason is part of the API: people filter Events on it and alert on it, so a constant is renamed
never, only added. Messages (for people) are written where the decision is made; this module holds
names only. No logic, no I/O.
"""

from __future__ import annotations

# --- seasons -----------------------------------------------------------------

SEASON_ACTIVE = "SeasonActive"                # a season's window contains now
BETWEEN_SEASONS = "BetweenSeasons"            # seasons are defined but none is active now
TRAILING_WINDOW = "TrailingWindow"            # no seasons: one engine follows the trailing window
SEASON_BUILD_DUE = "SeasonBuildDue"           # within lead time of a season's start (or inside it)
SEASON_BUILD_NOT_DUE = "SeasonBuildNotDue"    # the next start is further away than the lead time
SEASONS_DISCOVERED = "SeasonsDiscovered"      # seasonDiscovery found a schedule different from the one in force
SEASONS_UNCHANGED = "SeasonsUnchanged"        # seasonDiscovery ran again and kept the schedule
HISTORY_UNAVAILABLE = "HistoryUnavailable"    # no hourly history to discover from; the schedule in force stays

# --- drift: the policy chain's verdicts, first violation wins -------------------

INSUFFICIENT_TRAFFIC = "InsufficientTraffic"  # too few requests in the window; counters hold
TRAFFIC_UNAVAILABLE = "TrafficUnavailable"    # no profile at all (Prometheus down, no series)
COVERAGE_BREACH = "CoverageBreach"            # beyond-share over the threshold K times in a row: rebuild up
COVERAGE_BREACH_PENDING = "CoverageBreachPending"  # over the threshold, fewer than K times in a row
COVERAGE_BREACH_AT_CEILING = "CoverageBreachAtCeiling"  # breach, but a fresh plan is no larger
ENVELOPE_WASTEFUL = "EnvelopeWasteful"        # waste K times in a row, interval passed: rebuild down
ENVELOPE_WASTE_PENDING = "EnvelopeWastePending"  # wasteful, fewer than K times in a row
REBUILD_INTERVAL_NOT_ELAPSED = "RebuildIntervalNotElapsed"  # waste confirmed, min interval not yet passed
WITHIN_ENVELOPE = "WithinEnvelope"            # neither breach nor waste
LENGTHS_SHIFTED_UP = "LengthsShiftedUp"       # recent requests longer than the planning traffic, confirmed
LENGTHS_SHIFTED_DOWN = "LengthsShiftedDown"   # recent requests shorter than the planning traffic, confirmed
LENGTHS_SHIFT_PENDING = "LengthsShiftPending"  # a shift seen, fewer than drift.shift.consecutiveEvaluations times
LENGTHS_AS_PLANNED = "LengthsAsPlanned"       # recent requests could come from the planning traffic

# --- why no traffic profile (TrafficUnavailable.reason) ----------------------------

PROMETHEUS_UNREACHABLE = "PrometheusUnreachable"  # connection refused, DNS, TLS
PROMETHEUS_TIMEOUT = "PrometheusTimeout"      # no answer within the timeout
PROMETHEUS_ERROR = "PrometheusError"          # HTTP 5xx or another non-success answer
QUERY_REJECTED = "QueryRejected"              # HTTP 4xx: the query (names, selector) is wrong
PROMETHEUS_GARBAGE = "PrometheusGarbage"      # not the JSON a Prometheus API returns
NO_DATA = "NoData"                            # no series of the preset's metrics in the window
INSUFFICIENT_SAMPLES = "InsufficientSamples"  # fewer requests than asked for
NAN_IN_DATA = "NaNInData"                     # bucket or counter increases are NaN or infinite
MALFORMED_HISTOGRAM = "MalformedHistogram"    # no +Inf bucket, or bucket bounds that are not numbers

# --- spec and traffic --------------------------------------

INVALID_SPEC = "InvalidSpec"                  # the spec failed validation; nothing in service is touched
SPEC_ACCEPTED = "SpecAccepted"                # the spec is valid
TRAFFIC_OBSERVED = "TrafficObserved"          # enough requests in the window to plan from
ADVISED_PLAN = "AdvisedPlan"                  # Advisory mode recorded the engine it would build

# --- why the serving engine changes ------------------------

INITIAL = "Initial"                           # nothing serves yet: build the planned engine
BOOTSTRAP = "Bootstrap"                       # nothing serves and there is no traffic yet: the model's full context
SEASON_START = "SeasonStart"                  # a season began whose engine differs from the serving one
SEASON_PREBUILD = "SeasonPrebuild"            # a season's engine is built ahead of its start
DRIFT_BREACH = "DriftBreach"                  # confirmed coverage breach: rebuild upward
DRIFT_WASTE = "DriftWaste"                    # confirmed waste: rebuild downward
BREACH_INTERIM = "BreachInterim"             # a larger stored engine serves a breach while its plan waits
TARGET_PENDING = "TargetPending"              # a chosen engine still waits to be built or rolled out
ENGINE_SHARED = "EngineShared"                # a season plans the engine already serving: nothing to build
SERVING = "Serving"                           # the serving engine is the one wanted
SEASON_GROWN = "SeasonGrown"                  # the season's plan from its newest history needs more: resize up now
SEASON_SHRUNK = "SeasonShrunk"                # the season's plan stayed smaller long enough, on enough requests
SEASON_PROVISIONAL = "SeasonProvisional"      # too few requests to bound the quantile: twice the largest, for now
DRIFT_REASONS = (DRIFT_BREACH, DRIFT_WASTE, BREACH_INTERIM)  # the serving engine changes for drift

# --- builds ------------------------------------------------

BUILD_STARTED = "BuildStarted"                # a build Job was created
BUILD_IN_PROGRESS = "BuildInProgress"         # the build Job runs
BUILD_SUCCEEDED = "BuildSucceeded"            # the engine reached the store
BUILD_FAILED = "BuildFailed"                  # the Job failed, ran past its deadline or vanished; never rolled out
BUILD_UNSCHEDULABLE = "BuildUnschedulable"    # the build pod is Pending: no node has the GPU it asks for

# --- rollouts ----------------------------------------------

ROLLOUT_STARTED = "RolloutStarted"            # the Deployment moves to a new engine
ROLLOUT_IN_PROGRESS = "RolloutInProgress"     # waiting for pods and Triton readiness
ROLLOUT_SUCCEEDED = "RolloutSucceeded"        # every pod serves the new engine and Triton reports it ready
ROLLOUT_FAILED = "RolloutFailed"              # failed or not ready within the readiness timeout
ROLLBACK_IN_PROGRESS = "RollbackInProgress"   # returning to the previous engine
ROLLED_BACK = "RolledBack"                    # back on the previous engine
ROLLBACK_FAILED = "RollbackFailed"            # the previous engine did not come back either: a person must look
WAITING_FOR_DOWNSIZE_WINDOW = "WaitingForDownsizeWindow"# a smaller engine waits for drift.downsizeWindow
UNSCHEDULABLE = "Unschedulable"               # a new Triton pod cannot be placed (no free GPU): the old one serves
SCHEDULED = "Scheduled"                       # every new pod found a node

# --- the cluster's answers ---------------------------------

APPLIED = "Applied"                           # every change of the last evaluation was accepted
KUBERNETES_API_ERROR = "KubernetesApiError"   # the API server refused a change (403, 422, ...): nothing advanced
FIELD_MANAGER_CONFLICT = "FieldManagerConflict"  # another field manager had changed fields we own; ours applied
STATUS_UNREADABLE = "StatusUnreadable"        # the stored status could not be read: started afresh
DEPLOYMENT_NOT_FOUND = "DeploymentNotFound"   # serving.deploymentRef names a Deployment that does not exist
DEPLOYMENT_NOT_OPTED_IN = "DeploymentNotOptedIn"  # serving.deploymentRef's Deployment lacks the opt-in label
DEPLOYMENT_CONTAINER_MISSING = "DeploymentContainerMissing"  # ... or has no container to point at the engine

__all__ = [
    "SEASON_ACTIVE", "BETWEEN_SEASONS", "TRAILING_WINDOW", "SEASON_BUILD_DUE", "SEASON_BUILD_NOT_DUE",
    "SEASONS_DISCOVERED", "SEASONS_UNCHANGED", "HISTORY_UNAVAILABLE", "INSUFFICIENT_TRAFFIC", "TRAFFIC_UNAVAILABLE",
    "COVERAGE_BREACH", "COVERAGE_BREACH_PENDING", "COVERAGE_BREACH_AT_CEILING", "ENVELOPE_WASTEFUL",
    "ENVELOPE_WASTE_PENDING", "REBUILD_INTERVAL_NOT_ELAPSED", "WITHIN_ENVELOPE", "LENGTHS_SHIFTED_UP",
    "LENGTHS_SHIFTED_DOWN", "LENGTHS_SHIFT_PENDING", "LENGTHS_AS_PLANNED", "PROMETHEUS_UNREACHABLE",
    "PROMETHEUS_TIMEOUT", "PROMETHEUS_ERROR", "QUERY_REJECTED", "PROMETHEUS_GARBAGE", "NO_DATA",
    "INSUFFICIENT_SAMPLES", "NAN_IN_DATA", "MALFORMED_HISTOGRAM", "INVALID_SPEC", "SPEC_ACCEPTED",
    "TRAFFIC_OBSERVED", "ADVISED_PLAN", "INITIAL", "BOOTSTRAP", "SEASON_START", "SEASON_PREBUILD", "DRIFT_BREACH",
    "BREACH_INTERIM", "DRIFT_REASONS", "DRIFT_WASTE", "TARGET_PENDING", "ENGINE_SHARED", "SERVING", "SEASON_GROWN",
    "SEASON_SHRUNK", "SEASON_PROVISIONAL", "BUILD_STARTED",
    "BUILD_IN_PROGRESS", "BUILD_SUCCEEDED", "BUILD_FAILED", "BUILD_UNSCHEDULABLE", "ROLLOUT_STARTED",
    "ROLLOUT_IN_PROGRESS", "ROLLOUT_SUCCEEDED", "ROLLOUT_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLED_BACK",
    "ROLLBACK_FAILED", "WAITING_FOR_DOWNSIZE_WINDOW", "UNSCHEDULABLE", "SCHEDULED", "APPLIED",
    "KUBERNETES_API_ERROR", "FIELD_MANAGER_CONFLICT", "STATUS_UNREADABLE", "DEPLOYMENT_NOT_FOUND",
    "DEPLOYMENT_NOT_OPTED_IN", "DEPLOYMENT_CONTAINER_MISSING",
]
