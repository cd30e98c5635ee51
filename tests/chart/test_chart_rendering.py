"""The Helm chart lints, renders valid Kubernetes manifests for every value set, meets Pod Security Standards
"restricted", refuses bad values through its schema, and ships the generated CRD, rules and dashboards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from seasonal_engines.api import crd
from seasonal_engines.dashboards import alert_rules
from tests.chart import chart_rendering as cr

# Kinds kubernetes-validate has no schema for (CRD-defined); checked structurally below instead.
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ClusterKopfPeering", "KopfPeering"}
VALUE_SETS = list(cr.VALUE_SETS)


@pytest.mark.helm
@pytest.mark.parametrize("values", VALUE_SETS)
def test_helm_lint_strict_passes(helm_bin: Path, values: str) -> None:
    result = cr.helm(helm_bin, "lint", "--strict", str(cr.CHART), "--namespace", cr.NAMESPACE,
                     *cr.VALUE_SETS[values])
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.helm
@pytest.mark.parametrize("values", VALUE_SETS)
def test_rendered_manifests_validate_against_kubernetes_schemas(helm_bin: Path, values: str) -> None:
    docs = cr.template(helm_bin, cr.VALUE_SETS[values], include_crds=True)
    validated = 0
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            assert doc["apiVersion"] in ("monitoring.coreos.com/v1", "kopf.dev/v1"), doc["apiVersion"]
            assert doc["metadata"]["name"]
            continue
        kubernetes_validate.validate(doc, cr.KUBE_VERSION, strict=True)
        validated += 1
    kinds = {d["kind"] for d in docs}
    assert {"CustomResourceDefinition", "Deployment", "ClusterRole"} <= kinds
    assert validated >= 4


@pytest.mark.helm
def test_every_toggle_renders_its_object(helm_bin: Path) -> None:
    default_kinds = {d["kind"] for d in cr.template(helm_bin)}
    assert default_kinds == {"ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Service",
                             "Deployment", "NetworkPolicy"}
    on = {d["kind"] for d in cr.template(helm_bin, cr.NAMESPACED)}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "KopfPeering"} <= on
    # CRDs never come from templates (Helm would delete them on uninstall): they live in crds/.
    assert "CustomResourceDefinition" not in on
    off = {d["kind"] for d in cr.template(helm_bin, [*cr.MINIMAL, "--set", "networkPolicy.enabled=false"])}
    assert off == {"ClusterRole", "ClusterRoleBinding", "Deployment"}


def _pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return cr.one(docs, "Deployment")["spec"]["template"]["spec"]


@pytest.mark.helm
@pytest.mark.parametrize("values", VALUE_SETS)
def test_operator_pod_meets_pod_security_restricted(helm_bin: Path, values: str) -> None:
    pod = _pod_spec(cr.template(helm_bin, cr.VALUE_SETS[values]))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] != 0
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(forbidden)
    for volume in pod.get("volumes", []):
        assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "projected", "downwardAPI",
                                          "persistentVolumeClaim", "ephemeral", "csi"}, volume
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["runAsNonRoot"] is True
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not sc.get("privileged")
        assert "hostPort" not in json.dumps(c["ports"])


@pytest.mark.helm
def test_operator_container_runs_seasonal_with_probes_and_ports(helm_bin: Path) -> None:
    docs = cr.template(helm_bin)
    deployment = cr.one(docs, "Deployment")
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    values = yaml.safe_load((cr.CHART / "values.yaml").read_text())
    chart = yaml.safe_load((cr.CHART / "Chart.yaml").read_text())
    assert c["image"] == f"{values['image']['repository']}:{chart['appVersion']}"
    assert c["args"][:3] == ["run", "--all-namespaces", "--standalone"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in c["args"] and "--metrics-port=9090" in c["args"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 9090, "health": 8080}
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # a standalone operator never runs twice
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/tmp" in mounts  # the only writable path with a read-only root filesystem


@pytest.mark.helm
@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_seasonal_command_accepts_the_rendered_command_line(helm_bin: Path, values: str) -> None:
    from seasonal_engines.cli import main, run

    c = _pod_spec(cr.template(helm_bin, cr.VALUE_SETS[values]))["containers"][0]
    assert c["command"] == ["seasonal"]
    args = main.build_parser().parse_args(c["args"])
    assert args.run is run.run
    watched = cr.VALUE_SETS[values] == cr.NAMESPACED or values == "example-gpu-cluster"
    assert bool(args.namespace) == watched and args.all_namespaces == (not watched)
    assert args.standalone == (args.peering is None)
    assert args.metrics_port == 9090 and args.liveness == "http://0.0.0.0:8080/healthz"


@pytest.mark.helm
def test_peering_replaces_standalone_with_more_replicas(helm_bin: Path) -> None:
    docs = cr.template(helm_bin, cr.NAMESPACED)
    deployment = cr.one(docs, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert deployment["spec"]["replicas"] == 3
    assert "--peering=seasonal-engines" in args and "--standalone" not in args
    assert "strategy" not in deployment["spec"]
    peerings = cr.of_kind(docs, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["llm", "research"]
    # Every replica is its own pod name to kopf (POD_ID) and so gets a priority of its own.
    env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "POD_ID" in env and "--priority=auto" in args
    cluster_wide = cr.template(helm_bin, ["--set", "operator.standalone=false"])
    assert [p["metadata"]["name"] for p in cr.of_kind(cluster_wide, "ClusterKopfPeering")] == ["seasonal-engines"]


@pytest.mark.helm
@pytest.mark.parametrize(("values", "message"), [
    (["--set", "operator.replicas=2"], "standalone"),
    (["--set", "operatr.replicas=1"], "operatr"),
    (["--set", "operator.watchNamespaces={LLM_Prod}"], "watchNamespaces"),
    (["--set", "metrics.port=70000"], "port"),
    (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    (["--set", "metrics.serviceMonitor.interval=30"], "interval"),
], ids=["replicas-without-peering", "unknown-key", "bad-namespace", "port-range", "pull-policy", "interval"])
def test_schema_refuses_bad_values(helm_bin: Path, values: list[str], message: str) -> None:
    for command in (["template", cr.RELEASE, str(cr.CHART)], ["lint", str(cr.CHART)]):
        result = cr.helm(helm_bin, *command, *values, check=False)
        assert result.returncode != 0, f"helm {command[0]} accepted {values}"
        assert message in result.stderr + result.stdout, result.stderr


@pytest.mark.helm
def test_chart_ships_the_generated_crd(helm_bin: Path) -> None:
    shipped = cr.CHART / "crds" / crd.CRD_FILENAME
    assert shipped.read_text() == crd.render(), "chart CRD stale: run python -m seasonal_engines.dashboards"
    assert shipped.read_text() == (cr.REPO_ROOT / "crds" / crd.CRD_FILENAME).read_text(), (
        "crds/ differs from the chart's copy: regenerate both (python -m seasonal_engines.api.crd > crds/...; "
        "python -m seasonal_engines.dashboards)")
    docs = cr.template(helm_bin, include_crds=True)
    names = [d["metadata"]["name"] for d in cr.of_kind(docs, "CustomResourceDefinition")]
    assert sorted(names) == ["clusterkopfpeerings.kopf.dev", "inferenceservices.seasonalengines.io",
                             "kopfpeerings.kopf.dev"]


@pytest.mark.helm
def test_prometheus_rule_is_the_generated_rules_file(helm_bin: Path) -> None:
    docs = cr.template(helm_bin, ["-f", str(cr.EXAMPLE_VALUES)])
    rule = cr.one(docs, "PrometheusRule")
    assert rule["spec"] == alert_rules.document()
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    names = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert names == {"SeasonalEnginesCoverageBreach", "SeasonalEnginesBuildFailed", "SeasonalEnginesRolloutStuck",
                     "SeasonalEnginesTrafficUnavailable", "SeasonalEnginesLengthsShiftedUp"}


@pytest.mark.helm
def test_dashboards_ship_as_sidecar_configmaps(helm_bin: Path) -> None:
    docs = cr.template(helm_bin, ["-f", str(cr.EXAMPLE_VALUES)])
    maps = cr.of_kind(docs, "ConfigMap")
    files = sorted((cr.CHART / "dashboards").glob("*.json"))
    assert len(maps) == len(files) == 2
    shipped = {}
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"]["grafana_folder"] == "Seasonal Engines"
        assert cm["metadata"]["namespace"] == "monitoring"
        shipped.update(cm["data"])
    for f in files:
        assert json.loads(shipped[f.name]) == json.loads(f.read_text())


@pytest.mark.helm
def test_monitors_scrape_what_exists(helm_bin: Path) -> None:
    docs = cr.template(helm_bin, cr.NAMESPACED)
    service = cr.one(docs, "Service")
    monitor = cr.one(docs, "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [cr.NAMESPACE]}
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["honorLabels"] is True  # keeps the InferenceService's namespace label as exported
    pods = cr.one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pods.items()
    pod_monitor = cr.one(docs, "PodMonitor")
    # the labels and port the operator gives Triton pods (core/deployments.py)
    assert pod_monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "triton",
                                                             "app.kubernetes.io/managed-by": "seasonal-engines"}
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert pod_monitor["spec"]["namespaceSelector"] == {"matchNames": ["llm", "research"]}
    with pytest.raises(AssertionError, match="metrics.service.enabled"):
        cr.template(helm_bin, ["--set", "metrics.serviceMonitor.enabled=true",
                               "--set", "metrics.service.enabled=false"])


@pytest.mark.helm
def test_notes_give_the_next_steps(helm_bin: Path) -> None:
    result = cr.helm(helm_bin, "install", cr.RELEASE, str(cr.CHART), "--namespace", cr.NAMESPACE,
                     "--dry-run=client", "-f", str(cr.EXAMPLE_VALUES))
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl get inferenceservices.seasonalengines.io" in notes
    assert "kubectl apply -f examples/" in notes
    assert "seasonal-engines-fleet" in notes
    assert "It watches InferenceServices in: llm." in notes
    assert "PrometheusRule se-seasonal-engines" in notes


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's value merge: maps merge key by key, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def test_default_and_example_values_follow_the_schema() -> None:
    import jsonschema

    validator = jsonschema.Draft7Validator(json.loads((cr.CHART / "values.schema.json").read_text()))
    defaults = yaml.safe_load((cr.CHART / "values.yaml").read_text())
    validator.validate(defaults)
    validator.validate(_merged(defaults, yaml.safe_load(cr.EXAMPLE_VALUES.read_text())))
    with pytest.raises(jsonschema.ValidationError, match="False was expected"):
        validator.validate(_merged(defaults, {"operator": {"replicas": 2}}))
