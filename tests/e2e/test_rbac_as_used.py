"""The chart's RBAC is exactly what the operator uses: every request the operator's ServiceAccount made in
this session's e2e tests, as the real API server's audit log recorded it (``.ci/kube-up.sh`` logs the
requests of namespace seasonal-engines' ServiceAccounts), was allowed, and every verb the chart grants was
used by some test. Runs last, and only when every e2e test ran before it (``conftest.py`` sees to both)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from seasonal_engines.adapters.api_usage import ADMISSION_NEEDS, GRANTED
from tests.e2e import harness as h
from tests.testbed import cluster

pytestmark = [pytest.mark.cluster, pytest.mark.rbac_audit]
USER = f"system:serviceaccount:{h.OPERATOR_NAMESPACE}:{h.OPERATOR_ACCOUNT}"


def audit_events(log: Path) -> Iterator[dict]:
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event.get("user", {}).get("username") == USER and event.get("stage") == "ResponseComplete":
            yield event


def used(log: Path) -> tuple[set[tuple[str, str, str]], list[str]]:
    """(group, resource[/subresource], verb) the operator was allowed, and the requests it was refused."""
    allowed, refused = set(), []
    for event in audit_events(log):
        ref = event.get("objectRef") or {}
        if not ref.get("resource"):
            continue  # discovery (/api, /apis): open to every authenticated user, no RBAC rule involved
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        triple = (ref.get("apiGroup", ""), resource, event["verb"])
        code = event.get("responseStatus", {}).get("code", 0)
        message = event.get("responseStatus", {}).get("message", "")
        if code == 403 and " cannot " in message:  # the RBAC authorizer's refusal ("User ... cannot create ...")
            refused.append(f"{triple}: {message[:200]}")
            continue
        if code == 403:
            continue  # admission, e.g. an Event into a namespace being deleted at a test's end
        allowed.add(triple)
        if event["verb"] == "patch" and code == 201:
            allowed.add((triple[0], triple[1], "create"))  # server-side apply created it: authorized as create
    return allowed, refused


def test_the_operator_used_exactly_what_the_chart_grants(control_plane: cluster.ControlPlane,
                                                          e2e_not_passed: list[str]) -> None:
    assert not e2e_not_passed, (
        "the audit judges the API usage of every e2e test, and these did not pass, so their usage is missing:\n"
        + "\n".join(e2e_not_passed))
    allowed, refused = used(control_plane.state_dir / "logs" / "audit.log")
    assert not refused, "the chart's RBAC refused the operator:\n" + "\n".join(refused)
    assert allowed - GRANTED == set(), f"used but not granted (the authorizer allowed it anyway?): {allowed - GRANTED}"
    # Admission needs no request of ours: OwnerReferencesPermissionEnforcement checks it on every owned object.
    unused = GRANTED - ADMISSION_NEEDS - allowed
    assert not unused, f"the chart grants verbs no e2e test used: {sorted(unused)}"
