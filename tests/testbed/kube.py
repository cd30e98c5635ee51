"""An in-memory Kubernetes API (kmock's KubernetesEmulator) for kopf tests.

The emulator runs in its own thread with its own event loop, so it serves
sync tests, async tests and kopf's ``KopfRunner`` (which runs the operator in
yet another thread) alike. It knows our InferenceService resource and the
built-in resources the operator touches (see ``RESOURCES``), and a kubeconfig
pointing at it is written so that kopf's default login, the kubernetes client
and kubectl all find it through ``$KUBECONFIG``.

What the emulator does not do (kmock is simplistic): no schema validation (our
tests validate manifests against the CRD themselves), no resourceVersion
conflicts, merge patches replace lists, no controllers (Job and Deployment
status change only when a test writes them), no uid/creationTimestamp unless
the created body carries them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock

from seasonal_engines.adapters import local_processes
from seasonal_engines.api import spec

KUBE_URL_ENV = "SEASONAL_TESTBED_KUBE_URL"
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}

# Path of an object collection, by short name, for the helper methods below.
INFERENCE_SERVICES = f"{spec.GROUP}/{spec.VERSION}/{spec.PLURAL}"
RESOURCES: dict[str, kmock.ResourceInfo] = {
    INFERENCE_SERVICES: kmock.ResourceInfo(
        kind=spec.KIND, singular=spec.SINGULAR, namespaced=True, verbs=VERBS,
        shortnames=set(spec.SHORT_NAMES), categories=set(spec.CATEGORIES), subresources={"status"},
    ),
    # Without namespaces, kopf -A waits forever and starts no watcher (silently).
    "v1/namespaces": kmock.ResourceInfo(kind="Namespace", singular="namespace", namespaced=False, verbs=VERBS),
    "apiextensions.k8s.io/v1/customresourcedefinitions": kmock.ResourceInfo(
        kind="CustomResourceDefinition", singular="customresourcedefinition", namespaced=False, verbs=VERBS,
    ),
    "v1/events": kmock.ResourceInfo(kind="Event", singular="event", namespaced=True, verbs=VERBS),
    "batch/v1/jobs": kmock.ResourceInfo(
        kind="Job", singular="job", namespaced=True, verbs=VERBS, subresources={"status"},
    ),
    "apps/v1/deployments": kmock.ResourceInfo(
        kind="Deployment", singular="deployment", namespaced=True, verbs=VERBS, subresources={"status", "scale"},
    ),
    "v1/configmaps": kmock.ResourceInfo(kind="ConfigMap", singular="configmap", namespaced=True, verbs=VERBS),
    "v1/services": kmock.ResourceInfo(kind="Service", singular="service", namespaced=True, verbs=VERBS),
    "v1/pods": kmock.ResourceInfo(kind="Pod", singular="pod", namespaced=True, verbs=VERBS, subresources={"status"}),
    "coordination.k8s.io/v1/leases": kmock.ResourceInfo(kind="Lease", singular="lease", namespaced=True, verbs=VERBS),
    "kopf.dev/v1/clusterkopfpeerings": kmock.ResourceInfo(
        kind="ClusterKopfPeering", singular="clusterkopfpeering", namespaced=False, verbs=VERBS,
    ),
    "kopf.dev/v1/kopfpeerings": kmock.ResourceInfo(
        kind="KopfPeering", singular="kopfpeering", namespaced=True, verbs=VERBS,
    ),
}
DEFAULT_NAMESPACES = ("default", "seasonal-engines")


def collection_path(resource: str, namespace: str | None = None) -> str:
    """The REST path of a collection: ``('apps/v1/deployments', 'ns')`` → ``/apis/apps/v1/namespaces/ns/deployments``."""
    parsed = kmock.resource(resource)
    prefix = "/api/v1" if parsed.group == "" else f"/apis/{parsed.group}/{parsed.version}"
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{scope}/{parsed.plural}"


@dataclass
class KubeEmulator:
    """A running emulator: its URL, the kmock object and small sync REST helpers."""

    url: str
    emulator: kmock.KubernetesEmulator
    loop: asyncio.AbstractEventLoop = field(repr=False)
    kubeconfig: Path | None = None

    # --- REST helpers (real HTTP, so watchers see the changes) -------------

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        req = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"Content-Type": content_type}
        )
        try:
            with local_processes.LOOPBACK_OPENER.open(req, timeout=10) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path} → {exc.code}: {exc.read().decode(errors='replace')[:500]}") from exc

    def create(self, resource: str, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", collection_path(resource, namespace), body)

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self.request("GET", f"{collection_path(resource, namespace)}/{name}")

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return list(self.request("GET", collection_path(resource, namespace))["items"])

    def patch(self, resource: str, namespace: str | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"{collection_path(resource, namespace)}/{name}", body)

    def delete(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self.request("DELETE", f"{collection_path(resource, namespace)}/{name}")

    def wait_for(
        self, resource: str, namespace: str | None, name: str,
        predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 15.0,
    ) -> dict[str, Any]:
        """Poll an object until ``predicate(obj)`` holds; TimeoutError shows its last state."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            try:
                last = self.get(resource, namespace, name)
            except RuntimeError:
                last = None
            if last is not None and predicate(last):
                return last
            time.sleep(0.1)
        raise TimeoutError(f"{resource} {namespace}/{name}: condition not met in {timeout_s}s; last: {last}")


class TestbedEmulator(kmock.KubernetesEmulator):
    """kmock's emulator, with lists that say their ``kind`` (kubectl refuses lists without one) and
    ``metadata.generateName`` honoured on create (kopf posts Events that way)."""

    async def _handle(self, request: Any) -> Any:
        if request.resource is not None and request.action == kmock.action.CREATE and \
                isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{secrets.token_hex(4)}"
        return await super()._handle(request)

    async def _serve_list(self, request: Any) -> Any:
        payload = await super()._serve_list(request)
        resource = request.resource
        info = self.resources[resource] if resource in self.resources else None
        kind = info.kind if info is not None and info.kind else str(resource.plural).capitalize()
        api_version = resource.version if resource.group == "" else f"{resource.group}/{resource.version}"
        return {"apiVersion": api_version, "kind": f"{kind}List", **payload}


def write_kubeconfig(path: Path, url: str) -> Path:
    """A kubeconfig for the emulator (plain HTTP; any bearer token)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": url, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "kmock", "user": {"token": "testbed"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock", "namespace": "default"}}],
        "current-context": "kmock",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))  # JSON is valid YAML
    return path


def login_to_emulator(**_: Any) -> Any:
    """A kopf login handler for ``$SEASONAL_TESTBED_KUBE_URL`` (when kubeconfig is not wanted)."""
    import kopf  # only the kopf tests need it

    return kopf.ConnectionInfo(server=os.environ[KUBE_URL_ENV], scheme="Bearer", token="testbed", insecure=True)


@contextlib.contextmanager
def isolated_kopf_registry() -> Iterator[Any]:
    """A fresh kopf registry for one ``KopfRunner(..., registry=it)``; the old default comes back after.

    kopf keeps handlers in a process-wide default registry: without this, the
    handlers of every operator module run earlier in the session would also
    react to this test's objects.
    """
    import kopf  # only the kopf tests need it

    previous = kopf.get_default_registry()
    registry = kopf.OperatorRegistry()
    # kopf's own default registry brings the kubernetes-client login; a plain one does not.
    kopf.on.login(registry=registry, errors=kopf.ErrorsMode.IGNORED)(kopf.login_via_client)
    try:
        yield registry
    finally:
        kopf.set_default_registry(previous)


def register_resources(emulator: kmock.KubernetesEmulator, namespaces: tuple[str, ...] = DEFAULT_NAMESPACES) -> None:
    for name, info in RESOURCES.items():
        emulator.resources[name] = info
    for namespace in namespaces:
        emulator.objects["v1/namespaces", None, namespace] = {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace},
        }


@dataclass
class _Thread:
    started: threading.Event = field(default_factory=threading.Event)
    stop: asyncio.Event | None = None
    emulator: KubeEmulator | None = None
    error: BaseException | None = None


def _serve(state: _Thread, namespaces: tuple[str, ...]) -> None:
    async def main() -> None:
        state.stop = asyncio.Event()
        async with TestbedEmulator() as emulator, kmock.Server(emulator) as server:
            register_resources(emulator, namespaces)
            url = str(server.url).rstrip("/")
            state.emulator = KubeEmulator(url=url, emulator=emulator, loop=asyncio.get_running_loop())
            state.started.set()
            await state.stop.wait()

    try:
        asyncio.run(main())
    except BaseException as exc:  # reported to the starting thread
        state.error = exc
    finally:
        state.started.set()


@contextlib.contextmanager
def run_emulator(namespaces: tuple[str, ...] = DEFAULT_NAMESPACES) -> Iterator[KubeEmulator]:
    """Start the emulator in a thread (with these namespaces present); stop it on exit."""
    state = _Thread()
    thread = threading.Thread(target=_serve, args=(state, namespaces), name="kmock-emulator", daemon=True)
    thread.start()
    if not state.started.wait(timeout=30) or state.emulator is None:
        raise RuntimeError(f"kmock emulator did not start: {state.error!r}")
    try:
        yield state.emulator
    finally:
        assert state.stop is not None
        state.emulator.loop.call_soon_threadsafe(state.stop.set)
        thread.join(timeout=10)
        if state.error is not None:
            raise RuntimeError(f"kmock emulator failed: {state.error!r}") from state.error
