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

__all__ = [
    "SEASON_ACTIVE", "BETWEEN_SEASONS", "TRAILING_WINDOW", "SEASON_BUILD_DUE", "SEASON_BUILD_NOT_DUE",
    "INSUFFICIENT_TRAFFIC", "TRAFFIC_UNAVAILABLE", "COVERAGE_BREACH", "COVERAGE_BREACH_PENDING",
    "COVERAGE_BREACH_AT_CEILING", "ENVELOPE_WASTEFUL", "ENVELOPE_WASTE_PENDING",
    "REBUILD_INTERVAL_NOT_ELAPSED", "WITHIN_ENVELOPE",
]
