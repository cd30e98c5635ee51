"""Every Kubernetes API call the operator makes, as (group, resource, verb) triples.

The Helm chart's RBAC rules are checked against this list by a test (exactly these, no wildcards), and the
Kubernetes adapter asserts at each call that its triple is declared here, so code and RBAC cannot drift
apart silently. Pure data.
"""

from __future__ import annotations

from seasonal_engines.api import spec as api

# (API group, resource, verb); "" is the core group.
API_USAGE: frozenset[tuple[str, str, str]] = frozenset({
    # the custom resource: kopf watches it, patches status and manages its finalizer
    (api.GROUP, api.PLURAL, "get"), (api.GROUP, api.PLURAL, "list"), (api.GROUP, api.PLURAL, "watch"),
    (api.GROUP, api.PLURAL, "patch"),
    (api.GROUP, f"{api.PLURAL}/status", "get"), (api.GROUP, f"{api.PLURAL}/status", "patch"),
    # build Jobs and the ConfigMaps carrying their plans
    ("batch", "jobs", "get"), ("batch", "jobs", "list"), ("batch", "jobs", "create"), ("batch", "jobs", "delete"),
    ("", "configmaps", "get"), ("", "configmaps", "create"), ("", "configmaps", "delete"),
    # the Triton Deployment(s) and the Service that BlueGreen switches
    ("apps", "deployments", "get"), ("apps", "deployments", "list"), ("apps", "deployments", "create"),
    ("apps", "deployments", "patch"), ("apps", "deployments", "delete"),
    ("", "services", "get"), ("", "services", "create"), ("", "services", "patch"),
    # pods of the new generation, to ask each one's Triton whether the model is ready
    ("", "pods", "list"),
    # Events for every decision; kopf posts them through the events API
    ("", "events", "create"), ("events.k8s.io", "events", "create"),
    # kopf's own needs: namespaces to watch across, CRDs to discover, peering between replicas
    ("", "namespaces", "list"), ("", "namespaces", "watch"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
    ("kopf.dev", "clusterkopfpeerings", "list"), ("kopf.dev", "clusterkopfpeerings", "watch"),
    ("kopf.dev", "clusterkopfpeerings", "patch"),
    ("kopf.dev", "kopfpeerings", "list"), ("kopf.dev", "kopfpeerings", "watch"),
    ("kopf.dev", "kopfpeerings", "patch"),
})


def require(group: str, resource: str, verb: str) -> None:
    """Fail fast, in tests and in production, if code calls the API in a way RBAC was not written for."""
    if (group, resource, verb) not in API_USAGE:
        raise AssertionError(f"undeclared Kubernetes API use {(group, resource, verb)}: add it to "
                             "adapters/api_usage.py and the chart's RBAC rules")
