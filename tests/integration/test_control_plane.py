"""The control plane of the test bed is real: its authorizer, admission, scheduler and controllers decide.

Every assertion here is about something only a real component does: RBAC
refuses a ServiceAccount token until a RoleBinding exists, apiextensions
serves our CRD's schema, the scheduler places (or refuses to place) a GPU pod,
the Job and Deployment controllers write status, OwnerReferencesPermission-
Enforcement guards blockOwnerDeletion, and kube-down stops every process.
No test writes an object's status; kwok plays only pods bound to its nodes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
from kubernetes.client.rest import ApiException

from tests.testbed import cluster

pytestmark = pytest.mark.cluster

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_NAME = "inferenceservices.seasonalengines.io"
TIMEOUT_S = 60.0


@pytest.fixture()
def api(control_plane: cluster.ControlPlane) -> Iterator[kubernetes.client.ApiClient]:
    with control_plane.api_client() as client:
        yield client


def gpu_job(name: str, product: str, annotations: dict[str, str] | None = None, gpus: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": {cluster.GPU_PRODUCT_LABEL: product},
                    "containers": [{"name": "build", "image": "example.invalid/engine-build:1",
                                    "resources": {"limits": {cluster.GPU_RESOURCE: str(gpus)}}}],
                },
            },
        },
    }


def job_condition(batch: kubernetes.client.BatchV1Api, namespace: str, name: str, type_: str) -> Any:
    cond = cluster.condition(batch.read_namespaced_job_status(name, namespace), type_)
    return cond if cond is not None and cond.status == "True" else None


def only_pod(core: kubernetes.client.CoreV1Api, namespace: str, selector: str) -> Any:
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    return pods[0] if len(pods) == 1 else None


# --- authentication and RBAC ------------------------------------------------------------------


def test_unbound_service_account_is_refused_until_a_role_binding_allows_it(control_plane, cluster_namespace,
                                                                             api, tmp_path):
    kubeconfig = control_plane.service_account_kubeconfig(cluster_namespace, "reader", tmp_path / "reader")
    with control_plane.api_client(kubeconfig) as as_reader:
        reader = kubernetes.client.CoreV1Api(as_reader)
        with pytest.raises(ApiException) as refused:
            reader.list_namespaced_config_map(cluster_namespace)
        assert refused.value.status == 403
        assert f"system:serviceaccount:{cluster_namespace}:reader" in refused.value.body

        rbac = kubernetes.client.RbacAuthorizationV1Api(api)
        rbac.create_namespaced_role(cluster_namespace, {
            "metadata": {"name": "configmap-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        })
        rbac.create_namespaced_role_binding(cluster_namespace, {
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": cluster_namespace}],
        })

        def allowed() -> bool:
            try:
                reader.list_namespaced_config_map(cluster_namespace)
            except ApiException as exc:
                if exc.status == 403:
                    return False
                raise
            return True

        cluster.wait_until(allowed, timeout_s=TIMEOUT_S, what="list configmaps after the RoleBinding")
        # Still nothing beyond the Role: RBAC, not a blanket allow.
        with pytest.raises(ApiException) as still_refused:
            reader.list_namespaced_secret(cluster_namespace)
        assert still_refused.value.status == 403


# --- the CRD ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crd_installed(control_plane: cluster.ControlPlane) -> str:
    assert control_plane.install_crds(REPO_ROOT / "crds") == [CRD_NAME]
    return CRD_NAME


def test_crd_applies_server_side_and_kubectl_explain_reads_its_schema(control_plane, crd_installed):
    crd = control_plane.kubectl("get", f"crd/{crd_installed}", "-o",
                                "jsonpath={.status.conditions[?(@.type=='NamesAccepted')].status}").stdout
    assert crd == "True"
    explained = control_plane.kubectl("explain", f"{crd_installed}.spec.seasons").stdout
    assert "FIELD: seasons" in explained
    assert "<[]Object>" in explained  # the type comes from the published OpenAPI schema


# --- the scheduler and the Job controller -----------------------------------------------------


def test_gpu_job_is_placed_on_the_h100_node_by_the_scheduler_and_completed_by_the_job_controller(
        cluster_namespace, api):
    batch, core = kubernetes.client.BatchV1Api(api), kubernetes.client.CoreV1Api(api)
    batch.create_namespaced_job(cluster_namespace, gpu_job("build", cluster.H100))

    complete = cluster.wait_until(lambda: job_condition(batch, cluster_namespace, "build", "Complete"),
                                  timeout_s=TIMEOUT_S, what="Job build Complete")
    assert complete.reason == "CompletionsReached"
    job = batch.read_namespaced_job_status("build", cluster_namespace)
    assert job.status.succeeded == 1 and not job.status.failed
    pod = only_pod(core, cluster_namespace, "batch.kubernetes.io/job-name=build")
    assert pod.spec.node_name == "gpu-h100-0"
    assert pod.status.phase == "Succeeded"
    events = core.list_namespaced_event(cluster_namespace, field_selector=f"involvedObject.name={pod.metadata.name}")
    scheduled = [e for e in events.items if e.reason == "Scheduled"]
    assert scheduled and scheduled[0].reporting_component == "default-scheduler"


def test_job_for_a_gpu_no_node_has_stays_pending_as_unschedulable(cluster_namespace, api):
    batch, core = kubernetes.client.BatchV1Api(api), kubernetes.client.CoreV1Api(api)
    batch.create_namespaced_job(cluster_namespace, gpu_job("build", "NVIDIA-B200"))

    def unschedulable() -> Any:
        pod = only_pod(core, cluster_namespace, "batch.kubernetes.io/job-name=build")
        cond = pod and cluster.condition(pod, "PodScheduled")
        return (pod, cond) if cond is not None and cond.status == "False" else None

    pod, cond = cluster.wait_until(unschedulable, timeout_s=TIMEOUT_S, what="PodScheduled=False")
    assert cond.reason == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in cond.message
    assert pod.status.phase == "Pending" and pod.spec.node_name is None
    job = batch.read_namespaced_job_status("build", cluster_namespace)
    assert job.status.active == 1 and not job.status.succeeded


def test_gpu_request_above_every_node_capacity_is_unschedulable(cluster_namespace, api):
    batch, core = kubernetes.client.BatchV1Api(api), kubernetes.client.CoreV1Api(api)
    batch.create_namespaced_job(cluster_namespace, gpu_job("build", cluster.L40S, gpus=5))  # the L40S node has 4

    def unschedulable() -> Any:
        pod = only_pod(core, cluster_namespace, "batch.kubernetes.io/job-name=build")
        cond = pod and cluster.condition(pod, "PodScheduled")
        return cond if cond is not None and cond.status == "False" else None

    cond = cluster.wait_until(unschedulable, timeout_s=TIMEOUT_S, what="PodScheduled=False")
    assert "Insufficient nvidia.com/gpu" in cond.message


def test_failed_outcome_fails_the_job_with_the_exit_code(cluster_namespace, api):
    batch, core = kubernetes.client.BatchV1Api(api), kubernetes.client.CoreV1Api(api)
    fate = cluster.pod_fate(cluster.Outcome.FAILED, run_for_s=0.5, exit_code=3)
    batch.create_namespaced_job(cluster_namespace, gpu_job("build", cluster.H100, annotations=fate))

    failed = cluster.wait_until(lambda: job_condition(batch, cluster_namespace, "build", "Failed"),
                                timeout_s=TIMEOUT_S, what="Job build Failed")
    assert failed.reason == "BackoffLimitExceeded"
    pod = only_pod(core, cluster_namespace, "batch.kubernetes.io/job-name=build")
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 3


@pytest.mark.parametrize(("outcome", "ready"), [(cluster.Outcome.RUNNING, "True"),
                                                (cluster.Outcome.NOT_READY, "False")])
def test_running_outcomes_keep_a_job_pod_running_ready_or_not(cluster_namespace, api, outcome, ready):
    batch, core = kubernetes.client.BatchV1Api(api), kubernetes.client.CoreV1Api(api)
    batch.create_namespaced_job(cluster_namespace,
                                gpu_job("serve", cluster.L40S, annotations=cluster.pod_fate(outcome)))

    def running() -> Any:
        pod = only_pod(core, cluster_namespace, "batch.kubernetes.io/job-name=serve")
        return pod if pod is not None and pod.status.phase == "Running" else None

    pod = cluster.wait_until(running, timeout_s=TIMEOUT_S, what="pod Running")
    assert pod.spec.node_name == "gpu-l40s-0"
    assert cluster.condition(pod, "Ready").status == ready
    assert batch.read_namespaced_job_status("serve", cluster_namespace).status.active == 1


def test_ready_after_and_run_for_delay_a_bare_pods_phases(cluster_namespace, api):
    core = kubernetes.client.CoreV1Api(api)
    fate = cluster.pod_fate(cluster.Outcome.SUCCEEDED, ready_after_s=2, run_for_s=2)
    core.create_namespaced_pod(cluster_namespace, {
        "metadata": {"name": "timed", "annotations": fate},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "example.invalid/x:1"}]},
    })

    def succeeded() -> Any:
        pod = core.read_namespaced_pod_status("timed", cluster_namespace)
        return pod if pod.status.phase == "Succeeded" else None

    pod = cluster.wait_until(succeeded, timeout_s=TIMEOUT_S, what="pod timed Succeeded")
    # Whole seconds on the server: floor(t + 2) - floor(t) is 2 for any t.
    assert (pod.status.start_time - pod.metadata.creation_timestamp).total_seconds() >= 2
    finished = pod.status.container_statuses[0].state.terminated
    assert finished.exit_code == 0 and (finished.finished_at - pod.status.start_time).total_seconds() >= 2


# --- Deployments --------------------------------------------------------------------------------


def test_deployment_pods_become_ready_through_the_deployment_and_replicaset_controllers(cluster_namespace, api):
    apps, core = kubernetes.client.AppsV1Api(api), kubernetes.client.CoreV1Api(api)
    apps.create_namespaced_deployment(cluster_namespace, {
        "metadata": {"name": "triton"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "triton"}},
            "template": {
                "metadata": {"labels": {"app": "triton"}},
                "spec": {"containers": [{"name": "triton", "image": "example.invalid/tritonserver:24.10",
                                         "resources": {"limits": {cluster.GPU_RESOURCE: "1"}}}],
                         "nodeSelector": {cluster.GPU_PRODUCT_LABEL: cluster.H100}},
            },
        },
    })

    def ready() -> Any:
        deployment = apps.read_namespaced_deployment_status("triton", cluster_namespace)
        return deployment if (deployment.status.ready_replicas or 0) == 2 else None

    deployment = cluster.wait_until(ready, timeout_s=TIMEOUT_S, what="Deployment triton readyReplicas=2")
    assert deployment.status.observed_generation == deployment.metadata.generation
    replica_sets = apps.list_namespaced_replica_set(cluster_namespace).items
    assert len(replica_sets) == 1
    assert replica_sets[0].metadata.owner_references[0].kind == "Deployment"
    assert replica_sets[0].status.ready_replicas == 2
    pods = core.list_namespaced_pod(cluster_namespace, label_selector="app=triton").items
    assert {p.spec.node_name for p in pods} == {"gpu-h100-0"}
    assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in pods)


# --- OwnerReferencesPermissionEnforcement -------------------------------------------------------

WIDGETS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.testbed.seasonalengines.io"},
    "spec": {
        "group": "testbed.seasonalengines.io", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object"}}}],
    },
}


def test_block_owner_deletion_needs_update_on_the_owners_finalizers(control_plane, cluster_namespace, api, tmp_path):
    extensions = kubernetes.client.ApiextensionsV1Api(api)
    try:
        extensions.create_custom_resource_definition(WIDGETS_CRD)
    except ApiException as exc:
        if exc.status != 409:  # made by an earlier test in this session
            raise
    control_plane.wait_established("widgets.testbed.seasonalengines.io")
    custom = kubernetes.client.CustomObjectsApi(api)
    owner = custom.create_namespaced_custom_object("testbed.seasonalengines.io", "v1", cluster_namespace, "widgets", {
        "apiVersion": "testbed.seasonalengines.io/v1", "kind": "Widget", "metadata": {"name": "owner"}})

    rbac = kubernetes.client.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role(cluster_namespace, {
        "metadata": {"name": "writer"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get"]},
                  {"apiGroups": ["testbed.seasonalengines.io"], "resources": ["widgets"], "verbs": ["get", "update"]}],
    })
    rbac.create_namespaced_role_binding(cluster_namespace, {
        "metadata": {"name": "writer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "writer"},
        "subjects": [{"kind": "ServiceAccount", "name": "writer", "namespace": cluster_namespace}],
    })
    kubeconfig = control_plane.service_account_kubeconfig(cluster_namespace, "writer", tmp_path / "writer")

    def owned(name: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "testbed.seasonalengines.io/v1", "kind": "Widget", "name": "owner",
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]}}

    with control_plane.api_client(kubeconfig) as as_writer:
        writer = kubernetes.client.CoreV1Api(as_writer)
        cluster.wait_until(lambda: writer.create_namespaced_config_map(cluster_namespace,
                                                                       {"metadata": {"name": "plain"}}),
                           timeout_s=TIMEOUT_S, what="the writer's Role in effect")
        with pytest.raises(ApiException) as refused:
            writer.create_namespaced_config_map(cluster_namespace, owned("owned"))
        assert refused.value.status == 403
        assert "cannot set blockOwnerDeletion" in refused.value.body

        rbac.create_namespaced_role(cluster_namespace, {
            "metadata": {"name": "widget-finalizers"},
            "rules": [{"apiGroups": ["testbed.seasonalengines.io"], "resources": ["widgets/finalizers"],
                       "verbs": ["update"]}],
        })
        rbac.create_namespaced_role_binding(cluster_namespace, {
            "metadata": {"name": "widget-finalizers"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "widget-finalizers"},
            "subjects": [{"kind": "ServiceAccount", "name": "writer", "namespace": cluster_namespace}],
        })

        def created() -> Any:
            try:
                return writer.create_namespaced_config_map(cluster_namespace, owned("owned"))
            except ApiException as exc:
                if exc.status == 403:
                    return None
                raise

        made = cluster.wait_until(created, timeout_s=TIMEOUT_S, what="owned ConfigMap once finalizers are granted")
        assert made.metadata.owner_references[0].block_owner_deletion is True


# --- the bed itself -------------------------------------------------------------------------------


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets ``pid`` listens on (from /proc, no tools needed)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with_target = os.readlink(fd) if fd.is_symlink() else ""
        if with_target.startswith("socket:["):
            inodes.add(with_target[len("socket:["):-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                if len(address) == 8:
                    octets = [str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)]
                    found.add(f"{'.'.join(octets)}:{int(port, 16)}")
                else:
                    found.add(f"[{address}]:{int(port, 16)}")
    return found


def test_every_component_listens_on_loopback_only(control_plane):
    pids = control_plane.pids()
    assert set(pids) == set(cluster.COMPONENTS)
    listeners = {name: listening_addresses(pid) for name, pid in pids.items()}
    assert listeners["kube-apiserver"] == {control_plane.server.removeprefix("https://")}
    assert listeners["kwok"] == set()  # no kubelet API, no metrics port
    for name, addresses in listeners.items():
        assert all(a.startswith("127.0.0.1:") for a in addresses), (name, addresses)


def test_namespace_deletion_completes_with_finished_and_running_pods(control_plane, api):
    batch, apps = kubernetes.client.BatchV1Api(api), kubernetes.client.AppsV1Api(api)
    namespace = control_plane.create_namespace("deleted")
    batch.create_namespaced_job(namespace, gpu_job("done", cluster.H100))
    batch.create_namespaced_job(namespace, gpu_job("busy", cluster.H100, annotations=cluster.pod_fate("Running")))
    cluster.wait_until(lambda: job_condition(batch, namespace, "done", "Complete"), timeout_s=TIMEOUT_S,
                       what="Job done Complete")
    cluster.wait_until(lambda: batch.read_namespaced_job_status("busy", namespace).status.ready == 1,
                       timeout_s=TIMEOUT_S, what="Job busy's pod Ready")
    assert apps.list_namespaced_deployment(namespace).items == []
    # The namespace controller deletes the Jobs, the garbage collector their pods, kwok plays the
    # pods' deletion and the Job controller drops its tracking finalizers.
    control_plane.delete_namespace(namespace, wait_s=TIMEOUT_S)


def test_kube_down_stops_every_process_it_started(tmp_path):
    with cluster.running_control_plane(tmp_path / "plane") as plane:
        pids = plane.pids()
        assert set(pids) == set(cluster.COMPONENTS)
        assert all(Path(f"/proc/{pid}").exists() for pid in pids.values())
        # A second kube-up on the same state dir reuses it rather than starting another.
        again = subprocess.run(["bash", str(cluster.KUBE_UP), "--state-dir", str(plane.state_dir)],
                               env={**plane.env, "SEASONAL_KUBECTL_BIN": str(plane.kubectl_bin)},
                               capture_output=True, text=True, timeout=60, check=True)
        assert again.stdout.strip().splitlines()[-1] == str(plane.kubeconfig)
        assert plane.pids() == pids
    left = [name for name, pid in pids.items() if Path(f"/proc/{pid}").exists()
            and str(plane.state_dir) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
    assert left == []
    assert not list((plane.state_dir / "pids").iterdir())


def test_missing_binary_fails_with_the_build_command(tmp_path, monkeypatch, kubectl_bin):
    monkeypatch.setenv("SEASONAL_KUBECTL_BIN", str(kubectl_bin))
    monkeypatch.setenv("SEASONAL_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(cluster.ControlPlaneError, match="bash tests/cluster/build.sh"):
        cluster.start_control_plane(tmp_path / "plane")
