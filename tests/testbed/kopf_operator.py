"""A minimal kopf operator that proves the emulator recipe: on InferenceService
creation it writes ``status.testbed.seenBy`` and posts an event.

Run by ``tests/integration/test_testbed.py`` through ``kopf.testing.KopfRunner``
with no login handler of its own: kopf's default login reads ``$KUBECONFIG``,
which the ``kmock_k8s`` fixture points at the emulator. Test scaffolding only.
"""

from typing import Any

import kopf

from seasonal_engines.api import spec


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Annotations-only progress storage keeps status free for the assertions.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="testbed.seasonalengines.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="testbed.seasonalengines.io")
    settings.watching.server_timeout = 10


@kopf.on.create(spec.GROUP, spec.VERSION, spec.PLURAL)
def seen(name: str, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    patch.status["testbed"] = {"seenBy": "testbed-operator", "name": name}
    kopf.info(body, reason="Seen", message="the test-bed operator saw it")
