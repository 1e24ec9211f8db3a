#!/usr/bin/python3
"""Checks what can be checked here of deploy/, docker-compose.yml and docs/OPERATIONS.md: we
run no Docker engine or cluster, so this parses every file and checks that ports, probe ports,
environment names, secret keys and image names agree with each other and with the flags the
server binary actually accepts.

usage: check_deploy.py REPO SERVER_BINARY
"""
import os
import re
import subprocess
import sys

import yaml

failures = []
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)
        print("FAIL: " + what)


def load(path):
    with open(path) as f:
        return list(yaml.safe_load_all(f))


def port_of(address):
    return int(address.rsplit(":", 1)[1])


repo, server = sys.argv[1], sys.argv[2]

# What the binary accepts: flags, their environment variables and defaults.
run = subprocess.run([server, "--help"], capture_output=True, text=True)
help_text = run.stdout + run.stderr
flags = {}
for match in re.finditer(r"--(\w+) \((.*?)\);\s+default: (.*?);", help_text, re.S):
    name, text, default = match.group(1), " ".join(match.group(2).split()), match.group(3)
    env = re.search(r"env ([A-Z_]+)", text)
    flags[name] = {"env": env.group(1) if env else None, "default": default.strip('"')}
check(len(flags) >= 10, "the server's --help lists its flags (%d found)" % len(flags))
env_names = {f["env"] for f in flags.values() if f["env"]} | {
    "ENCRYPTION_KEY", "ENCRYPTION_PREVIOUS_KEYS"}
grpc_port = port_of(flags["listen"]["default"])
metrics_port = port_of(flags["metrics_listen"]["default"])

# docs/OPERATIONS.md documents exactly the flags the binary has.
with open(os.path.join(repo, "docs/OPERATIONS.md")) as f:
    operations = f.read()
documented = set(re.findall(r"^\| `--([a-z-]+)` \| `([A-Z_]+)`", operations, re.M))
documented_flags = {name.replace("-", "_") for name, _ in documented}
check(documented_flags == set(flags),
      "OPERATIONS.md flags %s match the binary's %s" % (sorted(documented_flags), sorted(flags)))
for name, env in documented:
    flag = flags.get(name.replace("-", "_"))
    check(flag is not None and flag["env"] == env, "OPERATIONS.md: --%s reads %s" % (name, env))

# docker-compose.yml
compose = load(os.path.join(repo, "docker-compose.yml"))[0]
service = compose["services"]["firstsip"]
postgres = compose["services"]["postgres"]
check(os.path.exists(os.path.join(repo, service["build"]["dockerfile"])),
      "compose builds from an existing Dockerfile")
check(service["depends_on"]["postgres"]["condition"] == "service_healthy",
      "compose waits for a healthy PostgreSQL")
check("healthcheck" in postgres, "compose PostgreSQL has a health check")
check("UTF8" in postgres["environment"].get("POSTGRES_INITDB_ARGS", ""), "compose PostgreSQL is UTF-8")
for volume in postgres["volumes"]:
    check(volume.split(":")[0] in compose.get("volumes", {}), "named volume %s declared" % volume)
check(".env" in service["env_file"], "compose reads secrets from .env")
with open(os.path.join(repo, ".gitignore")) as f:
    check("/.env" in f.read().split(), ".env is git-ignored")
with open(os.path.join(repo, ".env.example")) as f:
    example = f.read()
check("ENCRYPTION_KEY=" in example, ".env.example shows ENCRYPTION_KEY")
for name in re.findall(r"^([A-Z_]+)=", example, re.M):
    check(name in env_names, ".env.example variable %s is one the server reads" % name)
for name, value in service["environment"].items():
    check(name in env_names, "compose variable %s is one the server reads" % name)
ports = {int(p.rsplit(":", 1)[1]) for p in service["ports"]}
check(port_of(service["environment"]["FIRSTSIP_LISTEN"]) in ports, "compose publishes the gRPC port")
check(port_of(service["environment"]["FIRSTSIP_METRICS_LISTEN"]) in ports,
      "compose publishes the metrics port")
health = " ".join(service["healthcheck"]["test"])
check("firstsip" in health and "health" in health and ":%d" % grpc_port in health,
      "compose health check asks the service over gRPC on its port")

# deploy/Dockerfile
with open(os.path.join(repo, "deploy/Dockerfile")) as f:
    dockerfile = f.read()
check("scripts/install-deps.sh" in dockerfile and "scripts/build.sh" in dockerfile,
      "the Dockerfile builds with the scripts CI runs")
with open(os.path.join(repo, "scripts/test.sh")) as f:
    test_script = f.read()
check("scripts/install-deps.sh" in test_script and "scripts/build.sh" in test_script,
      "CI (scripts/test.sh) runs the same build scripts")
check(re.search(r"^FROM debian:bookworm-slim AS build", dockerfile, re.M) is not None and
      dockerfile.count("FROM debian:bookworm-slim") == 2, "multi-stage on debian:bookworm-slim")
check(re.search(r"^USER 10001", dockerfile, re.M) is not None, "the image runs as non-root")
expose = re.search(r"^EXPOSE (.*)$", dockerfile, re.M)
check(expose and {grpc_port, metrics_port} <= {int(p) for p in expose.group(1).split()},
      "the image exposes the gRPC and metrics ports")
check(re.search(r"HEALTHCHECK .*\n?.*firstsip.*health", dockerfile) is not None,
      "the image's HEALTHCHECK uses the gRPC health service")

# deploy/k8s
k8s = os.path.join(repo, "deploy/k8s")
kustomization = load(os.path.join(k8s, "kustomization.yaml"))[0]
documents = []
for resource in kustomization["resources"]:
    path = os.path.join(k8s, resource)
    check(os.path.exists(path), "kustomization resource %s exists" % resource)
    documents += load(path)
by_kind = {d["kind"]: d for d in documents}
deployment = by_kind["Deployment"]
secret = by_kind["ExternalSecret"]
pdb = by_kind["PodDisruptionBudget"]
pod = deployment["spec"]["template"]
images = {i["name"] for i in kustomization["images"]}
containers = {c["name"]: c for c in pod["spec"]["containers"]}
check("firstsip-server" in containers and len(containers) >= 2,
      "the service runs as a sidecar beside the app container")
sidecar = containers["firstsip-server"]
for container in containers.values():
    check(container["image"] in images, "image %s is set in kustomization" % container["image"])
    security = container.get("securityContext", {})
    check(security.get("readOnlyRootFilesystem") is True, "%s: read-only root" % container["name"])
    check(security.get("allowPrivilegeEscalation") is False,
          "%s: no privilege escalation" % container["name"])
    check(security.get("capabilities", {}).get("drop") == ["ALL"],
          "%s: capabilities dropped" % container["name"])
    check("requests" in container.get("resources", {}) and "limits" in container["resources"],
          "%s: requests and limits" % container["name"])
check(pod["spec"]["securityContext"].get("runAsNonRoot") is True, "pod runs as non-root")
env = {e["name"]: e for e in sidecar["env"]}
for name in env:
    check(name in env_names, "sidecar variable %s is one the server reads" % name)
listen = env["FIRSTSIP_LISTEN"]["value"]
check(listen.startswith("127.0.0.1:"), "the sidecar listens on loopback only")
container_ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
check(container_ports.get("grpc") == port_of(listen), "gRPC container port matches --listen")
check(container_ports.get("metrics") == port_of(env["FIRSTSIP_METRICS_LISTEN"]["value"]),
      "metrics container port matches --metrics-listen")
check(int(pod["metadata"]["annotations"]["prometheus.io/port"]) == container_ports["metrics"],
      "Prometheus scrapes the metrics port")
for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
    check(sidecar[probe]["grpc"]["port"] == port_of(listen), "%s uses the gRPC port" % probe)
check(sidecar["livenessProbe"]["grpc"].get("service") == "liveness",
      "liveness asks for the always-SERVING 'liveness' service")
secret_keys = {d["secretKey"] for d in secret["spec"]["data"]}
for name, variable in env.items():
    ref = variable.get("valueFrom", {}).get("secretKeyRef")
    if ref:
        check(ref["name"] == secret["spec"]["target"]["name"],
              "%s comes from the ExternalSecret's target" % name)
        check(ref["key"] in secret_keys, "%s is a key the ExternalSecret fills" % ref["key"])
for required in ("DATABASE_URL", "ENCRYPTION_KEY"):
    check(required in env and "secretKeyRef" in env[required].get("valueFrom", {}),
          "%s comes from the secret" % required)
check(pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(),
      "the PodDisruptionBudget selects the pods")
app_env = {e["name"]: e.get("value") for e in containers["web-backend"].get("env", [])}
check(app_env.get("FIRSTSIP_TARGET") == listen, "the app calls the sidecar's address")

print("deploy checks: %d passed, %d failed" % (checks - len(failures), len(failures)))
sys.exit(1 if failures else 0)
