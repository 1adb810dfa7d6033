"""A fleet for the scorecard's tests: services that pass every check, and services that each fail one.

``build_fleet(dest)`` publishes every service below as a bare remote (one
commit on master), and a meta repo listing them, and returns the meta
repo's URL. ``EXPECTED`` says, per service, the checks whose state is not
"pass" (and a piece of the line each must show); every other check passes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from make_fleet import publish

REGISTRY = "127.0.0.1:5000/test"
DIGEST = "sha256:" + "ab" * 32

DOCKERFILE = """FROM busybox:1.36
COPY app.sh /app.sh
USER 10001
HEALTHCHECK --interval=5s CMD ["/bin/true"]
ENTRYPOINT ["/bin/sh", "/app.sh"]
"""
APP = "#!/bin/sh\necho up\nexec sleep 1000\n"
SCHEMA = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}


def contracts(publishes: dict | None = None, consumes: dict | None = None) -> str:
    doc = {}
    if publishes:
        doc["publishes"] = {name: {"schema": schema} for name, schema in publishes.items()}
    if consumes:
        doc["consumes"] = {name: {"schema": schema} for name, schema in consumes.items()}
    return json.dumps(doc, indent=2) + "\n"  # JSON is YAML


CONSUMER = contracts(consumes={"order.created": SCHEMA})
GOOD = {"tags": ["backend"], "route": {"hosts": ["shop.example.test"], "path": "/x", "port": 8080},
        "metrics": {"port": 9100, "path": "/metrics"}, "slo": {"error_ratio": 0.01, "latency_p99_ms": 500}}


def dockerfile(**swap: str) -> str:
    """The good Dockerfile with lines replaced (``from``, ``user``, ``health``) or added (``extra``)."""
    lines = {"from": "FROM busybox:1.36", "user": "USER 10001", "health": 'HEALTHCHECK --interval=5s CMD ["/bin/true"]'}
    lines.update({k: v for k, v in swap.items() if k in lines})
    body = [lines["from"], "COPY app.sh /app.sh", swap.get("extra", ""), lines["user"], lines["health"],
            'ENTRYPOINT ["/bin/sh", "/app.sh"]']
    return "\n".join(line for line in body if line) + "\n"


# name -> (files: path -> text, or None to leave a file out; settings over GOOD: key -> value, None removes it)
SERVICES: dict[str, tuple[dict, dict]] = {
    "orders": ({"contracts.yaml": contracts(publishes={"order.created": SCHEMA})}, {}),
    "billing": ({}, {}),
    "nodockerfile": ({"Dockerfile": None}, {}),
    "badfile": ({"Dockerfile": "HEALTHCHECK CMD true\n"}, {}),
    "nohealth": ({"Dockerfile": dockerfile(health="")}, {}),
    "healthnone": ({"Dockerfile": dockerfile(health="HEALTHCHECK NONE")}, {}),
    "latest": ({"Dockerfile": dockerfile(**{"from": "FROM busybox:latest"})}, {}),
    "untagged": ({"Dockerfile": dockerfile(**{"from": "FROM busybox"})}, {}),
    "digest": ({"Dockerfile": dockerfile(**{"from": f"FROM busybox@{DIGEST}"})}, {}),
    "fleetbase": ({"Dockerfile": dockerfile(**{"from": f"FROM {REGISTRY}/orders"})}, {}),
    "scratch": ({"Dockerfile": dockerfile(**{"from": "FROM scratch"})}, {}),
    "root": ({"Dockerfile": dockerfile(user="USER root")}, {}),
    "rootuid": ({"Dockerfile": dockerfile(user="USER 0:0")}, {}),
    "nouser": ({"Dockerfile": dockerfile(user="")}, {}),
    "drifted": ({}, {}),
    "noci": ({}, {"ci": None}),
    "nocontracts": ({"contracts.yaml": None}, {}),
    "badcontracts": ({"contracts.yaml": "publishes: [1, 2]\n"}, {}),
    "pinger": ({"contracts.yaml": contracts(publishes={"ping": {"type": "object"}})}, {}),
    "strict": ({"contracts.yaml": contracts(consumes={"ping": {"type": "object", "required": ["n"]}})}, {}),
    "orphan": ({"contracts.yaml": contracts(consumes={"nobody.sends": SCHEMA})}, {}),
    "noroute": ({}, {"route": None}),
    "badroute": ({}, {"route": {"path": "orders"}}),
    "published": ({}, {"publish": [8080]}),
    "exposed": ({}, {"publish": [8080], "expose": True}),
    "nometrics": ({}, {"metrics": None}),
    "noslo": ({}, {"slo": None}),
    "badslo": ({}, {"slo": {"error_ratio": 5}}),
    "logrun": ({"Dockerfile": dockerfile(extra="RUN echo setup > /var/log/setup.log")}, {}),
    "logscript": ({"app.sh": "#!/bin/sh\nexec sleep 1000 >> /var/log/app.log 2>&1\n"}, {}),
    "logvolume": ({"Dockerfile": dockerfile(extra="VOLUME /var/log")}, {}),
    "loglinked": ({"Dockerfile": dockerfile(extra="RUN ln -sf /dev/stdout /var/log/app.log")}, {}),
    "notags": ({}, {"tags": None}),
    "wrongbranch": ({}, {"branch": "main"}),
    "base": ({}, {"deploy": False, "route": None, "metrics": None, "slo": None}),
}

FAIL, NA = "fail", "n/a"
NOT_DEPLOYED = {c: (NA, "deploy: false") for c in ("proxy.route", "proxy.unexposed", "monitoring.metrics",
                                                   "monitoring.slo", "logging.shipped", "messaging.broker")}
NO_DOCKERFILE = {c: (NA, "") for c in ("containerised.healthcheck", "containerised.pinned", "containerised.user",
                                       "logging.stdout")}
NO_CONTRACTS = {c: (NA, "no contracts file") for c in ("contracts.loading", "contracts.compatible",
                                                       "messaging.producers")}

# service -> {check: (state, a piece of its line)}; every check not named passes.
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "orders": {"messaging.producers": (NA, "consumes no message")},
    "billing": {},
    "nodockerfile": {"containerised.dockerfile": (FAIL, "add a Dockerfile"), **NO_DOCKERFILE},
    "badfile": {"containerised.dockerfile": (FAIL, "Dockerfile:1: no FROM"), **NO_DOCKERFILE},
    "nohealth": {"containerised.healthcheck": (FAIL, "add a HEALTHCHECK")},
    "healthnone": {"containerised.healthcheck": (FAIL, "HEALTHCHECK NONE")},
    "latest": {"containerised.pinned": (FAIL, "pin FROM busybox:latest")},
    "untagged": {"containerised.pinned": (FAIL, "pin FROM busybox to a version tag")},
    "digest": {},
    "fleetbase": {},
    "scratch": {},
    "root": {"containerised.user": (FAIL, "USER root runs as root")},
    "rootuid": {"containerised.user": (FAIL, "USER 0:0 runs as root")},
    "nouser": {"containerised.user": (FAIL, "no USER in the final stage")},
    "drifted": {"delivery.pipeline": (FAIL, ".github/workflows/cd.yml differs from its template")},
    "noci": {"delivery.pipeline": (FAIL, "metarepo.projects.services/noci.ci: no CI provider set")},
    "nocontracts": {"contracts.declared": (FAIL, "declare what it sends and receives"), **NO_CONTRACTS,
                    "messaging.broker": (NA, "sends and receives no message")},
    "badcontracts": {"contracts.loading": (FAIL, "contracts.yaml"),
                     "contracts.compatible": (NA, "do not load"), "messaging.producers": (NA, "do not load")},
    "pinger": {"contracts.compatible": (FAIL, "services/strict cannot read ping as it sends it"),
               "messaging.producers": (NA, "consumes no message")},
    "strict": {"contracts.compatible": (FAIL, "it cannot read ping as services/pinger sends it")},
    "orphan": {"messaging.producers": (FAIL, "nobody in the fleet sends nobody.sends")},
    "noroute": {"proxy.route": (FAIL, "declare its route: metarepo.projects.services/noroute.route")},
    "badroute": {"proxy.route": (FAIL, "is not a plain URL path")},
    "published": {"proxy.unexposed": (FAIL, "publishes 8080 past the proxy")},
    "exposed": {},
    "nometrics": {"monitoring.metrics": (FAIL, "declare metarepo.projects.services/nometrics.metrics")},
    "noslo": {"monitoring.slo": (FAIL, "declare metarepo.projects.services/noslo.slo")},
    "badslo": {"monitoring.slo": (FAIL, "error_ratio: must be a share of requests between 0 and 1")},
    "logrun": {"logging.stdout": (FAIL, "Dockerfile:3: RUN writes /var/log/setup.log")},
    "logscript": {"logging.stdout": (FAIL, "app.sh:2: writes /var/log/app.log")},
    "logvolume": {"logging.stdout": (FAIL, "VOLUME /var/log keeps logs in files")},
    "loglinked": {},
    "notags": {"meta.tags": (FAIL, "give it tags")},
    "wrongbranch": {"meta.branch": (FAIL, "the remote's default is master")},
    "base": NOT_DEPLOYED,
}


def build_fleet(dest: Path, names: list[str] | None = None) -> str:
    """Publish the services (all, or ``names``) and a meta repo under ``dest``; return the meta repo's URL."""
    remotes = Path(dest) / "remotes"
    remotes.mkdir(parents=True)
    projects, settings = {}, {}
    for name in names or list(SERVICES):
        files, own = SERVICES[name]
        texts = {"Dockerfile": DOCKERFILE, "app.sh": APP, "contracts.yaml": CONSUMER, "Makefile": "test:\n\ttrue\n",
                 "README.md": f"# {name}\n", **files}
        with tempfile.TemporaryDirectory(prefix="svc-") as tmp:
            source = Path(tmp) / name
            source.mkdir()
            for path, text in texts.items():
                if text is not None:
                    (source / path).write_text(text)
            publish(source, remotes / f"{name}.git", f"{name}: first version")
        projects[f"services/{name}"] = (remotes / f"{name}.git").as_uri()
        merged = {**GOOD, **own}
        settings[f"services/{name}"] = {k: v for k, v in merged.items() if v is not None or k == "ci"}
    manifest = {
        "projects": projects,
        "metarepo": {
            "defaults": {"branch": "master", "ci": "github", "test": "make test", "registry": REGISTRY},
            "projects": settings,
            "environments": {"staging": {"target": "swarm", "logging": {"driver": "syslog"},
                                         "broker": {"kind": "rabbitmq", "url": "http://127.0.0.1:15672",
                                                    "exchange": "events"}}},
        },
    }
    with tempfile.TemporaryDirectory(prefix="meta-") as tmp:
        meta = Path(tmp) / "meta"
        meta.mkdir()
        (meta / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
        (meta / ".gitignore").write_text("".join(f"{k}\n" for k in projects) + ".metarepo/\n")
        publish(meta, remotes / "meta.git", "the doctor's fleet")
    return (remotes / "meta.git").as_uri()


def copy_workspace(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True)
    return dest
