"""The deployment files in `deploy/` parse and say what they must: the image is multi-stage,
runs as a non-root user with no compilers and a health check, and bakes in no key; compose
keeps PostgreSQL on an internal network with no published port and reads secrets from files;
the Kubernetes manifests probe `/ready` and `/health`, set resources, run as non-root, hold
no secret values, let only the API, workers and migration reach PostgreSQL, keep the API up
through disruptions and migrate as the owner role. Each rule is also run on a copy broken on
purpose, to show it can fail."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.deploy.rules import compose_faults, container_faults, kubernetes_faults

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


def containerfile() -> str:
    return (DEPLOY / "Containerfile").read_text()


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())


def manifests() -> list[dict]:
    documents = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def test_the_image_is_multi_stage_non_root_checked_and_holds_no_key() -> None:
    assert container_faults(containerfile()) == []


@pytest.mark.parametrize(
    ("broken", "fault"),
    [
        (lambda t: t.replace("USER 10001:10001", "USER root"), "the final stage runs as root"),
        (lambda t: t + "\nRUN apt-get install -y gcc\n", "compilers in the final stage"),
        (lambda t: t.replace("HEALTHCHECK", "# HEALTHCHECK"), "no HEALTHCHECK on /health"),
        (lambda t: t + "\nCOPY secrets/haven-kek /run/secrets/haven-kek\n", "key material"),
    ],
)
def test_a_broken_image_file_is_caught(broken, fault: str) -> None:
    assert any(f.startswith(fault) for f in container_faults(broken(containerfile())))


def test_compose_keeps_the_database_internal_and_secrets_in_files() -> None:
    assert compose_faults(compose()) == []
    assert (DEPLOY / "compose" / "Caddyfile").read_text().count("reverse_proxy api:8000") == 1


def test_a_broken_compose_file_is_caught() -> None:
    published = compose()
    published["services"]["postgres"]["ports"] = ["5432:5432"]
    assert "PostgreSQL publishes a port" in compose_faults(published)
    inline = compose()
    inline["services"]["api"]["environment"]["HAVEN_DATABASE_URL"] = (
        "postgresql://haven:hunter2@postgres/haven"
    )
    assert any("a secret in the environment" in f for f in compose_faults(inline))


def test_the_kubernetes_manifests_say_what_they_must() -> None:
    assert kubernetes_faults(manifests()) == []


def test_kustomize_lists_every_manifest() -> None:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    present = sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == present


def test_broken_manifests_are_caught() -> None:
    documents = manifests()
    unprobed = copy.deepcopy(documents)
    api = next(d for d in unprobed if d["metadata"]["name"] == "haven-api")
    del api["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert "haven-api: readiness is not /ready" in kubernetes_faults(unprobed)
    open_database = copy.deepcopy(documents)
    policy = next(d for d in open_database if d["metadata"]["name"] == "haven-postgresql-ingress")
    policy["spec"]["ingress"][0]["from"] = [{"podSelector": {}}]
    assert "PostgreSQL accepts pods other than Haven's" in kubernetes_faults(open_database)
    with_values = [*documents, {"kind": "Secret", "metadata": {"name": "x"}, "data": {"k": "dg=="}}]
    assert "secret x holds its values in the manifests" in kubernetes_faults(with_values)
    rootful = copy.deepcopy(documents)
    worker = next(d for d in rootful if d["metadata"]["name"] == "haven-worker")
    worker["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    assert "haven-worker: may run as root" in kubernetes_faults(rootful)
