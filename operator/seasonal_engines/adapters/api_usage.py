"""Every Kubernetes API call the operator makes, as (group, resource, verb) triples.

The Helm chart's RBAC rules are checked against this list by a test (exactly these, no wildcards), and the
Kubernetes adapter asserts at each call that its triple is declared here, so code and RBAC cannot drift
apart silently. Pure data.
"""

from __future__ import annotations

from seasonal_engines.api import spec as api

# (API group, resource, verb); "" is the core group.
API_USAGE: frozenset[tuple[str, str, str]] = frozenset({
    # the custom resource: kopf watches it and patches its annotations and finalizer; we read it again after
    # a status write met a newer version, and replace its status
    (api.GROUP, api.PLURAL, "get"), (api.GROUP, api.PLURAL, "list"), (api.GROUP, api.PLURAL, "watch"),
    (api.GROUP, api.PLURAL, "patch"),
    (api.GROUP, f"{api.PLURAL}/status", "update"),
    # build Jobs and the ConfigMaps carrying their plans. Server-side apply is a PATCH request, and the API
    # server also asks for create when the object does not exist yet (the real authorizer said so).
    ("batch", "jobs", "get"), ("batch", "jobs", "list"), ("batch", "jobs", "patch"), ("batch", "jobs", "create"),
    ("", "configmaps", "patch"), ("", "configmaps", "create"),
    # the Triton Deployment(s) and the Service, likewise applied
    ("apps", "deployments", "get"), ("apps", "deployments", "patch"), ("apps", "deployments", "create"),
    ("", "services", "get"), ("", "services", "patch"), ("", "services", "create"),
    # pods of a build Job (is it waiting for a GPU?) and of the new generation (each one's Triton)
    ("", "pods", "list"),
    # Events for every decision; kopf posts them through the core v1 events API
    ("", "events", "create"),
    # kopf's own needs: namespaces to watch across, CRDs to discover, peering between replicas
    ("", "namespaces", "list"), ("", "namespaces", "watch"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
    ("kopf.dev", "clusterkopfpeerings", "list"), ("kopf.dev", "clusterkopfpeerings", "watch"),
    ("kopf.dev", "clusterkopfpeerings", "patch"),
    ("kopf.dev", "kopfpeerings", "list"), ("kopf.dev", "kopfpeerings", "watch"),
    ("kopf.dev", "kopfpeerings", "patch"),
})

# Permissions no call of ours uses but an admission plugin checks: OwnerReferencesPermissionEnforcement
# (on in OpenShift and hardened clusters) lets an object name an owner with blockOwnerDeletion only when the
# creator may update the owner's finalizers. Every Job, ConfigMap, Deployment and Service we write does.
ADMISSION_NEEDS: frozenset[tuple[str, str, str]] = frozenset({
    (api.GROUP, f"{api.PLURAL}/finalizers", "update"),
})

GRANTED = API_USAGE | ADMISSION_NEEDS
"""What the chart's RBAC grants: exactly this."""


# Server-side apply of an object that may not exist yet needs both verbs.
APPLY_VERBS = ("patch", "create")


def require(group: str, resource: str, verb: str) -> None:
    """Fail fast, in tests and in production, if code calls the API in a way RBAC was not written for."""
    if (group, resource, verb) not in API_USAGE:
        raise AssertionError(f"undeclared Kubernetes API use {(group, resource, verb)}: add it to "
                             "adapters/api_usage.py and the chart's RBAC rules")
