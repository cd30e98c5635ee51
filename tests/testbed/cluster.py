"""A real Kubernetes control plane for tests: ``.ci/kube-up.sh`` and ``.ci/kube-down.sh``, wrapped.

The scripts run etcd, kube-apiserver (RBAC, service-account tokens, a managed
cluster's admission plugins), kube-controller-manager, kube-scheduler and kwok
on loopback; kwok plays the nodes (``STANDARD_NODES``) and the pods' lifecycle
through the Stages in ``tests/cluster/manifests/kwok.yaml``. What a pod does is
the test's choice, through the annotations ``pod_fate()`` writes. Nothing here
writes an object's status: the real controllers and kwok do.

This module starts and stops the scripts, mints credentials (a ServiceAccount's
kubeconfig from the TokenRequest API), adds and removes kwok nodes and polls
for conditions. It never skips: a missing binary raises ``ControlPlaneError``
naming the command that builds it. Described in ``docs/test-bed.md``.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import secrets
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kubernetes.client
import kubernetes.config
import yaml
from kubernetes.client.rest import ApiException

from tests.testbed import binaries

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBE_UP = REPO_ROOT / ".ci" / "kube-up.sh"
KUBE_DOWN = REPO_ROOT / ".ci" / "kube-down.sh"
BUILD_COMMAND = "bash tests/cluster/build.sh"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
START_TIMEOUT_S = 180.0

# What a pod does on a kwok node (tests/cluster/manifests/kwok.yaml reads these).
ANNOTATION_PREFIX = "testbed.seasonalengines.io/"
OUTCOME_ANNOTATION = ANNOTATION_PREFIX + "outcome"
READY_AFTER_ANNOTATION = ANNOTATION_PREFIX + "ready-after"
RUN_FOR_ANNOTATION = ANNOTATION_PREFIX + "run-for"
EXIT_CODE_ANNOTATION = ANNOTATION_PREFIX + "exit-code"

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
H100 = "NVIDIA-H100-80GB-HBM3"
L40S = "NVIDIA-L40S"
# The nodes kube-up.sh creates (tests/cluster/manifests/nodes.yaml): name -> (GPU product, GPUs).
STANDARD_NODES: dict[str, tuple[str | None, int]] = {
    "gpu-h100-0": (H100, 8),
    "gpu-l40s-0": (L40S, 4),
    "cpu-0": (None, 0),
}
MAX_GPUS_PER_NODE = 16
MAX_DURATION_S = 3600.0

T = TypeVar("T")


class Outcome(str, enum.Enum):
    """How a pod on a kwok node ends (the ``outcome`` annotation)."""

    SUCCEEDED = "Succeeded"  # Running, then Succeeded (exit 0): the default for a Job's pods
    FAILED = "Failed"  # Running, then Failed with EXIT_CODE_ANNOTATION (default 1)
    RUNNING = "Running"  # Running and Ready for good: the default for every other pod
    NOT_READY = "NotReady"  # Running, never Ready (a readiness probe that never passes)


class ControlPlaneError(RuntimeError):
    """The control plane could not start or stop; the message says why and what to run."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; unlike its base class, the message quotes kubectl's stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


def _go_duration(seconds: float, field: str) -> str:
    if not 0 <= seconds <= MAX_DURATION_S:
        raise ValueError(f"{field}: {seconds} s is outside 0..{MAX_DURATION_S:.0f} s")
    return f"{int(round(seconds * 1000))}ms"


def pod_fate(
    outcome: Outcome | str | None = None,
    *,
    ready_after_s: float | None = None,
    run_for_s: float | None = None,
    exit_code: int | None = None,
) -> dict[str, str]:
    """The annotations that make kwok play a pod this way; put them on the pod (template).

    ``pod_fate(Outcome.FAILED, run_for_s=2, exit_code=3)`` → Running for 2 s, then
    Failed with exit code 3. ``None`` everywhere keeps the defaults (see ``Outcome``).
    """
    annotations: dict[str, str] = {}
    if outcome is not None:
        annotations[OUTCOME_ANNOTATION] = Outcome(outcome).value
    if ready_after_s is not None:
        annotations[READY_AFTER_ANNOTATION] = _go_duration(ready_after_s, "ready_after_s")
    if run_for_s is not None:
        annotations[RUN_FOR_ANNOTATION] = _go_duration(run_for_s, "run_for_s")
    if exit_code is not None:
        if not 1 <= exit_code <= 255:
            raise ValueError(f"exit_code: {exit_code} is outside 1..255 (0 is outcome Succeeded)")
        annotations[EXIT_CODE_ANNOTATION] = str(exit_code)
    return annotations


def wait_until(check: Callable[[], T], *, timeout_s: float, what: str, interval_s: float = 0.2) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    Raises ``TimeoutError`` naming ``what`` and the last value seen. A 404 from
    the API counts as "not yet"; other API errors propagate.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        try:
            last = check()
        except ApiException as exc:
            if exc.status != 404:
                raise
            last = f"404 {exc.reason}"
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s; last seen: {last!r}")
        time.sleep(interval_s)


@contextlib.contextmanager
def _unless_status(*statuses: int) -> Iterator[None]:
    """Swallow an ApiException with one of these HTTP statuses (409 exists, 404 gone); raise others."""
    try:
        yield
    except ApiException as exc:
        if exc.status not in statuses:
            raise


def _gone(read: Callable[[], Any]) -> bool:
    """Whether ``read()`` answers 404."""
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def condition(obj: Any, type_: str) -> Any:
    """The status condition of ``type_`` on a typed client object (or None)."""
    for cond in (getattr(obj.status, "conditions", None) or []):
        if cond.type == type_:
            return cond
    return None


@dataclass(frozen=True)
class ControlPlane:
    """A running control plane started by ``.ci/kube-up.sh`` in ``state_dir``."""

    state_dir: Path
    kubeconfig: Path  # the admin's (group system:masters)
    server: str  # https://127.0.0.1:PORT
    ca_file: Path  # the cluster CA (signs the API server's certificate)
    kubectl_bin: Path
    startup_s: float  # how long kube-up.sh took

    @property
    def env(self) -> dict[str, str]:
        """Environment for a child process that should use this cluster as the admin."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.state_dir / "kube-cache")}

    def pids(self) -> dict[str, int]:
        """The components' pids, from the state dir's pid files."""
        found = {}
        for name in COMPONENTS:
            pidfile = self.state_dir / "pids" / f"{name}.pid"
            if pidfile.exists():
                found[name] = int(pidfile.read_text().strip())
        return found

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, input: str | None = None, check: bool = True,
        timeout_s: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster (as the admin unless ``kubeconfig`` is given)."""
        command = [str(self.kubectl_bin), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        result = subprocess.run(command, env=self.env, input=input, capture_output=True, text=True,
                                timeout=timeout_s, check=False)
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, command, result.stdout, result.stderr)
        return result

    def wait_established(self, crd: str, *, timeout_s: float = 60.0) -> None:
        """Wait for the CRD's Established condition.

        Polled here rather than with ``kubectl wait --for=condition=Established``:
        that command fails at once ("status.conditions accessor error: <nil>")
        when it reads the CRD before the apiextensions controller has written
        any condition, which a slow or busy machine hits.
        """
        def established() -> bool:
            found = self.kubectl("get", f"crd/{crd}", "-o", "json", check=False)
            if found.returncode != 0:
                return False
            conditions = json.loads(found.stdout).get("status", {}).get("conditions") or []
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        wait_until(established, timeout_s=timeout_s, what=f"CRD {crd} Established")

    def install_crds(self, path: Path, *, field_manager: str = "seasonal-engines-tests",
                     timeout_s: float = 60.0) -> list[str]:
        """Server-side apply the CRDs in ``path`` (a file or directory); return their names once served.

        Served means Established and published in the API server's OpenAPI
        document, which trails Established by a few seconds; only then do
        ``kubectl explain`` and kubectl's client-side field validation know the kind.
        """
        names = self.kubectl("apply", "--server-side", f"--field-manager={field_manager}", "-f", str(path),
                             "-o", "name").stdout.split()
        crds = [n.removeprefix("customresourcedefinition.apiextensions.k8s.io/") for n in names
                if n.startswith("customresourcedefinition.apiextensions.k8s.io/")]
        for crd in crds:
            self.wait_established(crd, timeout_s=timeout_s)
            spec = json.loads(self.kubectl("get", f"crd/{crd}", "-o", "json").stdout)["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            version = next(v["name"] for v in spec["versions"] if v.get("storage"))

            def published(path: str = f"/openapi/v3/apis/{group}/{version}", kind: str = kind) -> bool:
                document = self.kubectl("get", "--raw", path, check=False)
                if document.returncode != 0:
                    return False
                schemas = json.loads(document.stdout).get("components", {}).get("schemas", {})
                return any(gvk.get("kind") == kind for schema in schemas.values()
                           for gvk in schema.get("x-kubernetes-group-version-kind", []))

            wait_until(published, timeout_s=timeout_s, what=f"CRD {crd} in the OpenAPI document")
        return crds

    def api_client(self, kubeconfig: Path | None = None) -> kubernetes.client.ApiClient:
        """A kubernetes client for this cluster (as the admin unless ``kubeconfig`` is given)."""
        return kubernetes.config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    def service_account_kubeconfig(
        self, namespace: str, name: str, path: Path, *, duration_s: int = 3600, create: bool = True,
    ) -> Path:
        """Write a kubeconfig authenticating as ServiceAccount ``namespace/name``; return ``path``.

        The token comes from the TokenRequest API (as a pod's projected token
        would), so the real authenticator and RBAC authorizer judge every call.
        ``create`` makes the ServiceAccount first when it does not exist.
        """
        if not 600 <= duration_s <= 86400:
            raise ValueError(f"duration_s: {duration_s} is outside 600..86400 (600 s is the API server's minimum)")
        with self.api_client() as api:
            core = kubernetes.client.CoreV1Api(api)
            if create:
                with _unless_status(409):
                    core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
            request = kubernetes.client.AuthenticationV1TokenRequest(
                spec=kubernetes.client.V1TokenRequestSpec(audiences=[], expiration_seconds=duration_s))
            token = core.create_namespaced_service_account_token(name, namespace, request).status.token
        user = f"system:serviceaccount:{namespace}:{name}"
        config = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "seasonal-engines-test",
                          "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": {"cluster": "seasonal-engines-test", "user": user,
                                                    "namespace": namespace}}],
            "current-context": user,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    # --- nodes --------------------------------------------------------------------------------

    def add_gpu_node(
        self, name: str, product: str, count: int, *, labels: Mapping[str, str] | None = None,
        taints: Sequence[Mapping[str, str]] = (), cpu: str = "64", memory: str = "1Ti", timeout_s: float = 30.0,
    ) -> None:
        """Add a kwok node with ``count`` GPUs of ``product``; return once it is Ready and schedulable.

        ``taints`` (e.g. ``[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]``,
        as managed GPU pools have) are kept; TaintNodesByCondition's not-ready taint is waited out.
        """
        if not 0 <= count <= MAX_GPUS_PER_NODE:
            raise ValueError(f"count: {count} GPUs is outside 0..{MAX_GPUS_PER_NODE}")
        node_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "type": "kwok"}
        if count:
            node_labels |= {"nvidia.com/gpu.present": "true", GPU_PRODUCT_LABEL: product,
                            "nvidia.com/gpu.count": str(count)}
        node_labels |= dict(labels or {})
        resources = {"cpu": cpu, "memory": memory, "ephemeral-storage": "1Ti", "pods": "110"}
        if count:
            resources[GPU_RESOURCE] = str(count)
        body = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": node_labels, "annotations": {KWOK_NODE_ANNOTATION: "fake"}},
            "spec": {"taints": [dict(t) for t in taints]} if taints else {},
            "status": {"capacity": resources, "allocatable": resources},
        }
        wanted = {(t["key"], t.get("effect")) for t in taints}
        with self.api_client() as api:
            core = kubernetes.client.CoreV1Api(api)
            core.create_node(body)

            def ready() -> bool:
                node = core.read_node(name)
                cond = condition(node, "Ready")
                have = {(t.key, t.effect) for t in (node.spec.taints or [])}
                return bool(cond is not None and cond.status == "True" and have == wanted)

            wait_until(ready, timeout_s=timeout_s, what=f"node {name} Ready with taints {sorted(wanted)}")

    def remove_node(self, name: str, *, timeout_s: float = 30.0) -> None:
        """Delete a node and wait until it is gone (its pods are then the controllers' business)."""
        with self.api_client() as api:
            core = kubernetes.client.CoreV1Api(api)
            with _unless_status(404):
                core.delete_node(name)
            wait_until(lambda: _gone(lambda: core.read_node(name)), timeout_s=timeout_s,
                       what=f"node {name} deleted")

    # --- namespaces ---------------------------------------------------------------------------

    def create_namespace(self, prefix: str = "t", *, labels: Mapping[str, str] | None = None,
                         timeout_s: float = 30.0) -> str:
        """Create a namespace ``<prefix>-<random>``; return its name once its default ServiceAccount exists.

        Until the serviceaccount controller has made ``default``, the ServiceAccount
        admission plugin refuses pods there.
        """
        clean = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")[:40].strip("-") or "t"
        name = f"{clean}-{secrets.token_hex(3)}"
        with self.api_client() as api:
            core = kubernetes.client.CoreV1Api(api)
            core.create_namespace({"metadata": {"name": name, "labels": dict(labels or {})}})
            wait_until(lambda: core.read_namespaced_service_account("default", name), timeout_s=timeout_s,
                       what=f"ServiceAccount {name}/default")
        return name

    def delete_namespace(self, name: str, *, wait_s: float | None = None) -> None:
        """Delete a namespace; with ``wait_s``, wait until the namespace controller has removed it."""
        with self.api_client() as api:
            core = kubernetes.client.CoreV1Api(api)
            with _unless_status(404):
                core.delete_namespace(name)
            if wait_s is None:
                return
            wait_until(lambda: _gone(lambda: core.read_namespace(name)), timeout_s=wait_s,
                       what=f"namespace {name} removed")


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def start_control_plane(state_dir: Path, *, timeout_s: float = START_TIMEOUT_S) -> ControlPlane:
    """Run ``.ci/kube-up.sh`` in ``state_dir`` and return the running control plane.

    Raises ``ControlPlaneError`` with the script's own message (which names
    ``bash tests/cluster/build.sh`` when a binary is missing, or quotes the
    failing component's log).
    """
    kubectl = binaries.kubectl_path()
    env = {**os.environ, "SEASONAL_KUBECTL_BIN": str(kubectl)}
    started = time.monotonic()
    try:
        result = subprocess.run(
            ["bash", str(KUBE_UP), "--state-dir", str(state_dir), "--timeout", str(int(timeout_s))],
            env=env, capture_output=True, text=True, timeout=timeout_s + 30, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stop_control_plane(state_dir)
        raise ControlPlaneError(f"{KUBE_UP} did not finish within {timeout_s + 30:.0f} s:\n{exc.stderr}") from exc
    startup_s = time.monotonic() - started
    if result.returncode != 0:
        raise ControlPlaneError(
            f"{KUBE_UP} --state-dir {state_dir} failed with exit code {result.returncode}"
            f" (binaries missing? run `{BUILD_COMMAND}`):\n{result.stderr.strip()}"
        )
    kubeconfig = Path(result.stdout.strip().splitlines()[-1])
    values = _read_env(state_dir / "cluster.env")
    return ControlPlane(state_dir=state_dir, kubeconfig=kubeconfig, server=values["SERVER"],
                        ca_file=state_dir / "pki" / "ca.crt", kubectl_bin=kubectl, startup_s=startup_s)


def stop_control_plane(state_dir: Path) -> None:
    """Run ``.ci/kube-down.sh`` for ``state_dir``; raise if a component is left running."""
    result = subprocess.run(["bash", str(KUBE_DOWN), "--state-dir", str(state_dir)],
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"{KUBE_DOWN} --state-dir {state_dir} failed:\n{result.stderr.strip()}")


@contextlib.contextmanager
def running_control_plane(state_dir: Path, *, timeout_s: float = START_TIMEOUT_S) -> Iterator[ControlPlane]:
    """``start_control_plane`` for the duration of a ``with`` block; stopped afterwards, pass or fail.

    A start that fails is tried once more in a new state directory, with a warning that quotes the first
    failure: every cluster test of a session hangs on this one start, and a start-up race on a busy
    machine should cost a warning, not the session (a second failure raises both messages)."""
    try:
        plane = start_control_plane(state_dir, timeout_s=timeout_s)
    except ControlPlaneError as first:
        warnings.warn(f"the control plane did not start; trying once more: {first}", stacklevel=2)
        retry_dir = state_dir.with_name(state_dir.name + "-retry")
        try:
            plane = start_control_plane(retry_dir, timeout_s=timeout_s)
        except ControlPlaneError as second:
            raise ControlPlaneError(f"{second}\n(the first try failed too:)\n{first}") from None
    try:
        yield plane
    finally:
        stop_control_plane(plane.state_dir)
