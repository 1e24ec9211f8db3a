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
all_of_kind = {}
for d in documents:
    all_of_kind.setdefault(d["kind"], []).append(d)
by_kind = {kind: docs[0] for kind, docs in all_of_kind.items()}
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
value = lambda name: env.get(name, {}).get("value")
tls = value("FIRSTSIP_TLS_CERT") is not None
check(listen.startswith("127.0.0.1:") or (
    tls and value("FIRSTSIP_TLS_CLIENT_CA") and value("FIRSTSIP_AUTHZ_POLICY")),
      "the sidecar listens on loopback, or with mutual TLS and an authorization policy")
container_ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
check(container_ports.get("grpc") == port_of(listen), "gRPC container port matches --listen")
check(container_ports.get("metrics") == port_of(env["FIRSTSIP_METRICS_LISTEN"]["value"]),
      "metrics container port matches --metrics-listen")
check(int(pod["metadata"]["annotations"]["prometheus.io/port"]) == container_ports["metrics"],
      "Prometheus scrapes the metrics port")

# Files the sidecar reads come from its volumes: Secrets that cert-manager fills, and the
# ConfigMap kustomize makes from the policy file.
volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
certificates = all_of_kind.get("Certificate", [])
certificate_secrets = {c["spec"]["secretName"]: c for c in certificates}
generated = {g["name"]: g for g in kustomization.get("configMapGenerator", [])}


def mounted_source(container, path):
    """The volume behind `path` in `container` and the key of the file within it."""
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            return volumes.get(mount["name"]), path[len(prefix):]
    return None, None


def check_from_certificate(container, path, what):
    volume, key = mounted_source(container, path)
    name = (volume or {}).get("secret", {}).get("secretName")
    check(name in certificate_secrets and key in ("tls.crt", "tls.key", "ca.crt"),
          "%s (%s) is a file of a cert-manager Certificate's Secret" % (what, path))
    return certificate_secrets.get(name)


def exec_health(probe):
    """The firstsip health command of an exec probe, as a flag dict, or None."""
    command = probe.get("exec", {}).get("command", [])
    if not command or not command[0].endswith("/firstsip") or command[-1] != "health":
        return None
    return dict(a[2:].split("=", 1) for a in command[1:-1] if a.startswith("--") and "=" in a)


if tls:
    server_certificate = check_from_certificate(sidecar, value("FIRSTSIP_TLS_CERT"), "--tls-cert")
    check_from_certificate(sidecar, value("FIRSTSIP_TLS_KEY"), "--tls-key")
    check_from_certificate(sidecar, value("FIRSTSIP_TLS_CLIENT_CA"), "--tls-client-ca")
    check(server_certificate is not None and
          "server auth" in server_certificate["spec"].get("usages", []),
          "the server's Certificate is for server auth")
    tmp, _ = mounted_source(sidecar, "/tmp/x")
    check(tmp is not None and "emptyDir" in tmp,
          "a writable /tmp (an emptyDir) for the checked copy of the certificate")
    for probe in ("startupProbe", "readinessProbe"):
        flags = exec_health(sidecar[probe])
        check(flags is not None and port_of(flags.get("target", ":0")) == port_of(listen),
              "%s runs `firstsip health` against the gRPC port" % probe)
        for flag in ("tls-ca", "tls-cert", "tls-key"):
            check(flags is not None and flag in flags and
                  mounted_source(sidecar, flags[flag])[0] is not None,
                  "%s passes --%s from a mounted file" % (probe, flag))
        check(flags is not None and
              server_certificate is not None and
              "client auth" in server_certificate["spec"].get("usages", []),
              "%s calls with the server's certificate, which is also for client auth" % probe)
    check(sidecar["livenessProbe"].get("tcpSocket", {}).get("port") == port_of(listen),
          "liveness only asks whether the gRPC port accepts connections")
    for certificate in certificates:
        uris = certificate["spec"].get("uris", [])
        check(len(uris) == 1 and uris[0].startswith("spiffe://"),
              "Certificate %s names its holder by one SPIFFE ID" % certificate["metadata"]["name"])
        check(certificate["spec"].get("privateKey", {}).get("rotationPolicy") == "Always",
              "Certificate %s gets a new key at each renewal" % certificate["metadata"]["name"])
else:
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check(sidecar[probe]["grpc"]["port"] == port_of(listen), "%s uses the gRPC port" % probe)
    check(sidecar["livenessProbe"]["grpc"].get("service") == "liveness",
          "liveness asks for the always-SERVING 'liveness' service")

policy_path = value("FIRSTSIP_AUTHZ_POLICY")
if policy_path:
    volume, key = mounted_source(sidecar, policy_path)
    config_map = (volume or {}).get("configMap", {}).get("name")
    check(config_map in generated, "--authz-policy comes from a ConfigMap kustomize generates")
    generator = generated.get(config_map, {})
    check(generator.get("options", {}).get("disableNameSuffixHash") is True,
          "the policy ConfigMap keeps its name, so an edit reaches running pods")
    sources = dict(f.split("=", 1) if "=" in f else (os.path.basename(f), f)
                   for f in generator.get("files", []))
    check(key in sources, "the policy file %s is a key of the ConfigMap" % key)
    policy_file = os.path.join(k8s, sources.get(key, "missing"))
    uri = lambda name: next((c["spec"]["uris"][0] for c in certificates
                             if c["metadata"]["name"] == name), None)
    principals = {name: uri(name) for name in (
        "firstsip-server", "firstsip-web-backend", "firstsip-briefing-worker",
        "firstsip-operator-ada")}
    check(all(principals.values()), "Certificates for the service and its three callers")
    verdicts = {}
    if all(principals.values()):
        run = subprocess.run([server, "check-policy", policy_file] + list(principals.values()),
                             capture_output=True, text=True)
        check(run.returncode == 0, "the policy parses: " + run.stderr.strip())
        current = None
        for line in run.stdout.splitlines():
            if line.startswith("spiffe://"):
                current = line.strip()
            elif current and line.startswith("  "):
                verdict, method = line.split()[:2]
                verdicts[(current, method)] = verdict == "allow"
    methods = {m for _, m in verdicts}
    ours = {m for m in methods if m.startswith("/firstsip.v1.")}
    check(len(ours) >= 20, "check-policy lists the service's methods (%d)" % len(ours))
    web, worker, operator = (principals["firstsip-web-backend"],
                             principals["firstsip-briefing-worker"],
                             principals["firstsip-operator-ada"])
    check(all(verdicts.get((web, m)) for m in ours), "the web backend may call every method")
    check(not verdicts.get((operator, "/firstsip.v1.IdentityService/GetTokens"), True),
          "operators never read tokens")
    check(all(verdicts.get((operator, m)) is False for m in ours
              if not re.search(r"/(Get|List|Watch|Export)[A-Za-z]*$", m) or m.endswith("/GetTokens")),
          "operators only read")
    check(verdicts.get((worker, "/firstsip.v1.IdentityService/GetTokens")) is True and
          verdicts.get((worker, "/firstsip.v1.BriefingService/ClaimNextBriefing")) is True and
          verdicts.get((worker, "/firstsip.v1.UserService/DeleteUser")) is False,
          "briefing workers claim briefings and read tokens, and delete nothing")
    for name, principal in principals.items():
        check(verdicts.get((principal, "/grpc.health.v1.Health/Check")) is True,
              "%s may ask for health (the probes use the server's own)" % name)

services = all_of_kind.get("Service", [])
for service_doc in services:
    check(service_doc["spec"]["selector"].items() <= pod["metadata"]["labels"].items(),
          "Service %s selects the pods" % service_doc["metadata"]["name"])
    for port in service_doc["spec"]["ports"]:
        check(port["targetPort"] in container_ports or port["targetPort"] in
              container_ports.values(), "Service %s targets a container port" %
              service_doc["metadata"]["name"])
check(not services or tls, "a Service reaches the data service only with TLS")
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
target = app_env.get("FIRSTSIP_TARGET") or ""
check(target == listen or (listen.startswith("0.0.0.0:") and target.startswith("127.0.0.1:") and
                           port_of(target) == port_of(listen)),
      "the app calls the sidecar's address")
if tls:
    for name in ("FIRSTSIP_CLIENT_CA", "FIRSTSIP_CLIENT_CERT", "FIRSTSIP_CLIENT_KEY"):
        certificate = check_from_certificate(containers["web-backend"], app_env.get(name) or "",
                                             "the app's " + name)
        check(certificate is not None and
              certificate["metadata"]["name"] == "firstsip-web-backend",
              "the app's %s is the web backend's own certificate" % name)

print("deploy checks: %d passed, %d failed" % (checks - len(failures), len(failures)))
sys.exit(1 if failures else 0)
