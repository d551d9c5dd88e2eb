#!/usr/bin/env python3
"""Offline checks of docker-compose.yml, deploy/k8s, the Dockerfile and the
settings documented in docs/configuration.md.

No Docker engine or cluster is needed: the files are parsed and checked
against each other and against the source tree, so a renamed setting, a
service missing from a manifest or a Service that selects nothing fails the
test run. Prints one line per problem and exits 1 if there is any.
"""
import pathlib
import re
import sys

import yaml

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
problems = []


def problem(text):
    problems.append(text)
    print("problem:", text)


services = sorted(p.name for p in (root / "services").iterdir() if (p / "main.cc").exists())
settings = set()
for source in [p for d in ("services", "tools", "libs") for p in (root / d).rglob("*.cc")]:
    settings.update(re.findall(r'"(PARLEY_[A-Z0-9_]+)"', source.read_text()))


def check_env_names(names, where):
    for name in names:
        if name.startswith("PARLEY_") and name not in settings:
            problem(f"{where}: {name} is not a setting any binary reads")


# --- docs/configuration.md ------------------------------------------------------
documented = set(re.findall(r"`(PARLEY_[A-Z0-9_]+)`", (root / "docs/configuration.md").read_text()))
for name in sorted(settings - documented):
    problem(f"docs/configuration.md: {name} is read by a binary but not documented")

# --- Dockerfile --------------------------------------------------------------
dockerfile = (root / "deploy/docker/Dockerfile").read_text()
if "FROM debian:bookworm" not in dockerfile:
    problem("Dockerfile: build stage must be FROM debian:bookworm")
for name in services:
    if f"parley-{name}" not in dockerfile:
        problem(f"Dockerfile: does not install parley-{name}")

# --- docker-compose.yml --------------------------------------------------------
compose = yaml.safe_load((root / "docker-compose.yml").read_text())
compose_services = compose.get("services", {})
for infra in ("postgres", "redis"):
    if infra not in compose_services:
        problem(f"compose: no {infra} service")
for name in services:
    svc = compose_services.get(name)
    if svc is None:
        problem(f"compose: no service {name}")
        continue
    if svc.get("command") != [f"parley-{name}"]:
        problem(f"compose: {name} must run parley-{name}")
    if svc.get("build", {}).get("dockerfile") != "deploy/docker/Dockerfile":
        problem(f"compose: {name} must build from deploy/docker/Dockerfile")
for name, svc in compose_services.items():
    check_env_names((svc.get("environment") or {}).keys(), f"compose {name}")
    depends = svc.get("depends_on") or []
    for dep in (depends.keys() if isinstance(depends, dict) else depends):
        if dep not in compose_services:
            problem(f"compose: {name} depends on unknown service {dep}")

# --- deploy/k8s ----------------------------------------------------------------
docs = []
for path in sorted((root / "deploy/k8s").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            docs.append((path.name, doc))

workloads = {}
for fname, doc in docs:
    where = f"{fname} {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    for key in ("apiVersion", "kind", "metadata"):
        if key not in doc:
            problem(f"{where}: missing {key}")
    if not doc.get("metadata", {}).get("name"):
        problem(f"{where}: metadata.name is missing")
    if doc.get("kind") != "Namespace" and doc.get("metadata", {}).get("namespace") != "parley":
        problem(f"{where}: must be in namespace parley")
    if doc.get("kind") == "ConfigMap":
        check_env_names(doc.get("data", {}).keys(), where)
    if doc.get("kind") == "Secret":
        check_env_names(doc.get("stringData", {}).keys(), where)
    if doc.get("kind") in ("Deployment", "StatefulSet"):
        spec = doc["spec"]
        labels = spec["template"]["metadata"]["labels"]
        selector = spec["selector"]["matchLabels"]
        if any(labels.get(k) != v for k, v in selector.items()):
            problem(f"{where}: selector does not match the pod labels")
        ports = set()
        for container in spec["template"]["spec"]["containers"]:
            if not container.get("image"):
                problem(f"{where}: container without image")
            for port in container.get("ports", []):
                ports.add(port.get("name"))
                ports.add(port["containerPort"])
            check_env_names([e["name"] for e in container.get("env", [])], where)
            for probe in ("readinessProbe", "livenessProbe"):
                spec_probe = container.get(probe) or {}
                for kind in ("httpGet", "grpc", "tcpSocket"):
                    if kind in spec_probe and spec_probe[kind]["port"] not in ports:
                        problem(f"{where}: {probe} port {spec_probe[kind]['port']} is not a container port")
        workloads[doc["metadata"]["name"]] = (labels, ports, spec["template"]["spec"]["containers"])

for fname, doc in docs:
    if doc.get("kind") != "Service":
        continue
    where = f"{fname} Service/{doc['metadata']['name']}"
    selector = doc["spec"].get("selector", {})
    matched = [w for w in workloads.values() if all(w[0].get(k) == v for k, v in selector.items())]
    if not matched:
        problem(f"{where}: selects no workload")
        continue
    for port in doc["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        if not any(target in w[1] for w in matched):
            problem(f"{where}: targetPort {target} is not a port of the selected pods")

for name in services:
    if name not in workloads:
        problem(f"k8s: no Deployment for {name}")
    elif workloads[name][2][0].get("command") != [f"parley-{name}"]:
        problem(f"k8s: {name} must run parley-{name}")

print(f"checked {len(services)} services, {len(compose_services)} compose services, "
      f"{len(docs)} Kubernetes objects: {len(problems)} problems")
sys.exit(1 if problems else 0)
