"""The chart's RBAC grants exactly the Kubernetes API calls the operator's code declares: no more, no less,
no wildcards, in the cluster-wide and in the namespaced layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seasonal_engines.adapters.api_usage import GRANTED
from tests.chart import chart_rendering as cr

CLUSTER_SCOPED = {"namespaces", "customresourcedefinitions", "clusterkopfpeerings"}


def triples(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def all_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for d in docs if d["kind"] in ("ClusterRole", "Role") for rule in d["rules"]]


@pytest.mark.helm
@pytest.mark.parametrize("values", ["default", "example-gpu-cluster", "namespaced-peering"])
def test_rbac_covers_exactly_the_declared_api_usage(helm_bin: Path, values: str) -> None:
    docs = cr.template(helm_bin, cr.VALUE_SETS[values])
    granted = triples(all_rules(docs))
    assert granted - GRANTED == set(), f"granted but never used: {sorted(granted - GRANTED)}"
    assert GRANTED - granted == set(), f"used but not granted: {sorted(GRANTED - granted)}"


@pytest.mark.helm
@pytest.mark.parametrize("values", ["default", "namespaced-peering"])
def test_no_wildcards_and_no_resource_names(helm_bin: Path, values: str) -> None:
    for rule in all_rules(cr.template(helm_bin, cr.VALUE_SETS[values])):
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert "nonResourceURLs" not in rule


@pytest.mark.helm
def test_all_namespaces_uses_one_cluster_role(helm_bin: Path) -> None:
    docs = cr.template(helm_bin)
    assert cr.of_kind(docs, "Role") == [] and cr.of_kind(docs, "RoleBinding") == []
    role = cr.one(docs, "ClusterRole")
    binding = cr.one(docs, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "se-seasonal-engines",
                                    "namespace": cr.NAMESPACE}]
    assert "--all-namespaces" in cr.one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]


@pytest.mark.helm
def test_watched_namespaces_get_roles_and_the_cluster_role_keeps_only_cluster_scoped_reads(helm_bin: Path) -> None:
    docs = cr.template(helm_bin, cr.NAMESPACED)
    roles = cr.of_kind(docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["llm", "research"]
    bindings = cr.of_kind(docs, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["llm", "research"]
    for b in bindings:
        assert b["roleRef"]["kind"] == "Role"
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": "se-seasonal-engines", "namespace": cr.NAMESPACE}]
    cluster = triples(cr.one(docs, "ClusterRole")["rules"])
    assert {r for _, r, _ in cluster} == CLUSTER_SCOPED
    for role in roles:
        assert {r for _, r, _ in triples(role["rules"])} & CLUSTER_SCOPED == set()
        assert triples(role["rules"]) == {t for t in GRANTED if t[1] not in CLUSTER_SCOPED}
    args = cr.one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=llm" in args and "--namespace=research" in args and "--all-namespaces" not in args


@pytest.mark.helm
def test_rbac_can_be_left_to_the_cluster_admin(helm_bin: Path) -> None:
    docs = cr.template(helm_bin, ["--set", "rbac.create=false"])
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")]
