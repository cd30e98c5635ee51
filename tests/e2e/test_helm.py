"""`helm install`, `upgrade` and `uninstall` of the chart, for real, on the test control plane, with the
example values for a GPU cluster (peering on, two replicas, Roles in the watched namespace, monitoring and
dashboards on). The release namespace enforces Pod Security "restricted", so the operator's pods prove they
meet it. Uninstalling leaves nothing of the release behind and removes no CRD (Helm never deletes the chart's
crds/, which other kopf operators may share)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e import harness as h
from tests.testbed import cluster

pytestmark = [pytest.mark.cluster, pytest.mark.helm]
CHART = h.REPO / "charts" / "seasonal-engines"
VALUES = h.REPO / "examples" / "values-gpu-cluster.yaml"
RELEASE = "installed"  # not "se": the e2e tests already hold that release's RBAC
# The Prometheus Operator's kinds the chart creates. Its CRDs cannot be had offline: these stand-ins accept
# any spec, so the test proves the chart's objects install and go, not that the Prometheus Operator likes them.
MONITORING_KINDS = {"ServiceMonitor": "servicemonitors", "PodMonitor": "podmonitors",
                    "PrometheusRule": "prometheusrules"}
RELEASE_KINDS = ["deployments", "replicasets", "pods", "serviceaccounts", "services", "configmaps", "roles",
                 "rolebindings", "networkpolicies", "kopfpeerings.kopf.dev", *MONITORING_KINDS.values()]
CLUSTER_KINDS = ["clusterroles", "clusterrolebindings", "clusterkopfpeerings.kopf.dev"]


def monitoring_crds() -> str:
    docs = []
    for kind, plural in MONITORING_KINDS.items():
        docs.append({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                     "metadata": {"name": f"{plural}.monitoring.coreos.com"},
                     "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
                              "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
                              "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                                  "openAPIV3Schema": {"type": "object",
                                                      "x-kubernetes-preserve-unknown-fields": True}}}]}})
    return yaml.safe_dump_all(docs)


@pytest.fixture()
def release_env(control_plane: cluster.ControlPlane, operator_kubeconfig: Path) -> Iterator[str]:
    """The namespaces the example values name, the release namespace (restricted), stand-in monitoring CRDs."""
    namespace = control_plane.create_namespace("helm", labels={"pod-security.kubernetes.io/enforce": "restricted"})
    made = [n for n in ("llm", "monitoring") if control_plane.kubectl("create", "namespace", n, check=False)
            .returncode == 0]
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=monitoring_crds())
    yield namespace
    control_plane.kubectl("delete", "-f", "-", "--ignore-not-found", input=monitoring_crds(), check=False)
    for n in [namespace, *made]:
        control_plane.delete_namespace(n)


def helm(plane: cluster.ControlPlane, helm_bin: Path, *args: str) -> str:
    done = subprocess.run([str(helm_bin), "--kubeconfig", str(plane.kubeconfig), *args], capture_output=True,
                          text=True, timeout=300, env=plane.env)
    assert done.returncode == 0, f"helm {' '.join(args)}:\n{done.stderr}\n{done.stdout}"
    return done.stdout


def release_objects(plane: cluster.ControlPlane) -> list[str]:
    selector = f"app.kubernetes.io/instance={RELEASE}"
    found = []
    for kind in RELEASE_KINDS:
        out = plane.kubectl("get", kind, "-A", "-l", selector, "-o", "name", check=False).stdout.split()
        found += out
    for kind in CLUSTER_KINDS:
        found += plane.kubectl("get", kind, "-l", selector, "-o", "name", check=False).stdout.split()
    return found


def test_install_upgrade_uninstall_with_the_gpu_cluster_example(control_plane: cluster.ControlPlane,
                                                                 helm_bin: Path, release_env: str) -> None:
    ns = release_env
    crds_before = set(control_plane.kubectl("get", "crd", "-o", "name").stdout.split())
    helm(control_plane, helm_bin, "install", RELEASE, str(CHART), "-n", ns, "-f", str(VALUES), "--wait",
         "--timeout", "180s")
    deployment = json.loads(control_plane.kubectl("get", "deployment", "-n", ns, "-l",
                                                  f"app.kubernetes.io/instance={RELEASE}", "-o", "json").stdout)
    (dep,) = deployment["items"]
    assert dep["status"]["readyReplicas"] == 2  # both replicas admitted under "restricted" and Ready
    env = {e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "POD_ID" in env
    # The watched namespace got a Role, its peering object and nothing cluster-wide beyond the small reads.
    assert control_plane.kubectl("get", "role", "-n", "llm", "-l", f"app.kubernetes.io/instance={RELEASE}",
                                 "-o", "name").stdout.strip()
    assert control_plane.kubectl("get", "kopfpeerings.kopf.dev", "-n", "llm", "-o", "name").stdout.strip()
    assert control_plane.kubectl("get", "networkpolicy", "-n", ns, "-o", "name").stdout.strip()
    helm(control_plane, helm_bin, "upgrade", RELEASE, str(CHART), "-n", ns, "-f", str(VALUES),
         "--set", "operator.replicas=3", "--wait", "--timeout", "180s")
    (dep,) = json.loads(control_plane.kubectl("get", "deployment", "-n", ns, "-l",
                                              f"app.kubernetes.io/instance={RELEASE}", "-o", "json").stdout)["items"]
    assert dep["status"]["readyReplicas"] == 3
    helm(control_plane, helm_bin, "uninstall", RELEASE, "-n", ns, "--wait", "--timeout", "180s")
    assert cluster.wait_until(lambda: not release_objects(control_plane), timeout_s=60,
                              what="every object of the release gone") is True
    crds_after = set(control_plane.kubectl("get", "crd", "-o", "name").stdout.split())
    assert crds_before <= crds_after, f"uninstall removed CRDs: {crds_before - crds_after}"
    for name in ("inferenceservices.seasonalengines.io", "kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{name}" in crds_after
