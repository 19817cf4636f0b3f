"""What the deployment files must say, as functions from a file's text or documents to the
list of what is wrong: the tests run them on `deploy/` and, as controls, on copies broken on
purpose."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|libffi-dev|cargo|rustc)\b")
SECRET_NAMES = re.compile(r"(kek|\.pem|pgpass|password|secret|token)", re.I)


def stages(containerfile: str) -> list[list[str]]:
    """The instructions of each stage (continuation lines joined, comments dropped)."""
    joined = re.sub(r"\\\n", " ", containerfile)
    found: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            found.append([])
        if found:
            found[-1].append(line)
    return found


def container_faults(containerfile: str) -> list[str]:
    faults = []
    built = stages(containerfile)
    if len(built) < 2:
        faults.append("not multi-stage")
        return faults
    final = built[-1]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        faults.append("the final stage runs as root")
    if any(line.upper().startswith("RUN ") and BUILD_TOOLS.search(line) for line in final):
        faults.append("compilers in the final stage")
    if not any(line.upper().startswith("HEALTHCHECK ") and "/health" in line for line in final):
        faults.append("no HEALTHCHECK on /health")
    for stage in built:
        for line in stage:
            verb = line.split()[0].upper()
            if verb in ("COPY", "ADD") and "--from=" not in line and SECRET_NAMES.search(line):
                faults.append(f"key material baked in: {line}")
            if verb in ("ENV", "ARG") and re.search(r"(PASSWORD|PIN)\s*=", line, re.I):
                faults.append(f"a secret in the image's environment: {line}")
    return faults


def compose_faults(compose: dict[str, Any]) -> list[str]:
    faults = []
    services = compose.get("services", {})
    networks = compose.get("networks", {})
    database = services.get("postgres", {})
    if database.get("ports"):
        faults.append("PostgreSQL publishes a port")
    for name in database.get("networks", []):
        if not (networks.get(name) or {}).get("internal"):
            faults.append(f"PostgreSQL is on a network that is not internal: {name}")
    for name in ("api", "worker", "migrate", "proxy"):
        if name not in services:
            faults.append(f"no {name} service")
    for name, secret in compose.get("secrets", {}).items():
        if "file" not in secret:
            faults.append(f"secret {name} is not read from a file")
    for name, service in services.items():
        environment = service.get("environment", {})
        for key, value in environment.items() if isinstance(environment, dict) else ():
            if re.search(r"PASSWORD$|PIN$", key) or re.search(r"://[^/@]+:[^/@]+@", str(value)):
                faults.append(f"{name}: a secret in the environment ({key})")
    for name in ("api", "worker"):
        service = services.get(name, {})
        if service.get("ports"):
            faults.append(f"{name} publishes a port past the proxy")
        if "deploy/Containerfile" not in str(service.get("build", {}).get("dockerfile", "")):
            faults.append(f"{name} is not built from deploy/Containerfile")
    if not any(str(p).startswith("443") for p in services.get("proxy", {}).get("ports", [])):
        faults.append("the proxy does not publish 443")
    return faults


def _containers(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    spec = document.get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get(
        "template", {}
    )
    return template.get("spec", {}).get("containers", [])


def _pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    return document.get("spec", {}).get("template", {}).get("spec", {})


def kubernetes_faults(documents: list[dict[str, Any]]) -> list[str]:
    faults = []
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    for name in ("haven-api", "haven-worker"):
        if name not in deployments:
            faults.append(f"no Deployment {name}")
    for document in [*by_kind.get("Deployment", []), *by_kind.get("Job", []),
                     *by_kind.get("StatefulSet", [])]:  # fmt: skip
        name = document["metadata"]["name"]
        pod = _pod_spec(document)
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            faults.append(f"{name}: may run as root")
        for container in _containers(document):
            resources = container.get("resources", {})
            if not resources.get("requests") or not resources.get("limits"):
                faults.append(f"{name}: no resource requests and limits")
            if container.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                faults.append(f"{name}: privilege escalation not refused")
            for variable in container.get("env", []):
                if (
                    "value" in variable
                    and SECRET_NAMES.search(variable["name"])
                    and not str(variable["value"]).startswith("/run/secrets/")
                ):
                    faults.append(f"{name}: a secret's value inline ({variable['name']})")
    api = deployments.get("haven-api")
    for container in _containers(api) if api else ():
        if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ready":
            faults.append("haven-api: readiness is not /ready")
        if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/health":
            faults.append("haven-api: liveness is not /health")
    worker = deployments.get("haven-worker")
    for container in _containers(worker) if worker else ():
        if not container.get("readinessProbe") or not container.get("livenessProbe"):
            faults.append("haven-worker: no readiness or liveness probe")
    for secret in by_kind.get("Secret", []):
        if secret.get("data") or secret.get("stringData"):
            faults.append(f"secret {secret['metadata']['name']} holds its values in the manifests")
    faults += _database_policy_faults(by_kind.get("NetworkPolicy", []))
    if not any(
        p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component") == "api"
        for p in by_kind.get("PodDisruptionBudget", [])
    ):
        faults.append("no PodDisruptionBudget for the API")
    jobs = [j for j in by_kind.get("Job", []) if any(
        c.get("args") == ["db", "upgrade"] for c in _containers(j)
    )]  # fmt: skip
    if not jobs:
        faults.append("no Job runs haven db upgrade")
    for job in jobs:
        urls = [v.get("value", "") for c in _containers(job) for v in c.get("env", [])]
        if not any("haven_owner@" in url for url in urls):
            faults.append("the migration Job does not log in as the owner role")
    return faults


def _database_policy_faults(policies: list[dict[str, Any]]) -> list[str]:
    guarding = [
        p for p in policies
        if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        == "haven-postgresql"
    ]  # fmt: skip
    if not guarding:
        return ["no NetworkPolicy guards PostgreSQL"]
    faults = []
    for policy in guarding:
        for rule in policy["spec"].get("ingress", []):
            sources = rule.get("from")
            if not sources:
                faults.append("PostgreSQL accepts every pod")
                continue
            for source in sources:
                selector = source.get("podSelector")
                if selector is None or not (
                    selector.get("matchLabels") or selector.get("matchExpressions")
                ):
                    faults.append("PostgreSQL accepts pods other than Haven's")
                    continue
                components = [
                    set(e["values"]) for e in selector.get("matchExpressions", [])
                    if e["key"] == "app.kubernetes.io/component"
                ]  # fmt: skip
                if not components or not components[0] <= {"api", "worker", "migrate"}:
                    faults.append("PostgreSQL accepts components other than api and workers")
    return faults
