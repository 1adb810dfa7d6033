"""Swarm services for the netns tests: busybox web services, and a proxy in front of them.

Every service is ``endpoint_mode=dnsrr`` with host-mode published ports
(there is no IPVS here, so no VIP and no routing mesh). A proxy finds the
tasks of a service as ``tasks.<service>`` on a shared attachable overlay
network, through the engine's embedded DNS, and notices tasks coming and
going within a second or two.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Iterator, Sequence

from tests.netns.images import HAPROXY_CONFIG, NGINX_CONFIG

PROXY_UP = "/proxy-up"  # answers 200 from the proxy itself, whatever its backends do

HAPROXY_CFG = """global
    log stdout format raw local0 notice
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
resolvers docker
    nameserver dns 127.0.0.11:53
    accepted_payload_size 8192
    resolve_retries 3
    timeout resolve 1s
    timeout retry 1s
    hold valid 1s
    hold other 1s
    hold refused 1s
    hold nx 1s
    hold timeout 1s
    hold obsolete 1s
frontend edge
    bind :{port}
    monitor-uri {up}
    default_backend tasks
backend tasks
    balance roundrobin
    server-template task {slots} tasks.{backend}:{backend_port} resolvers docker resolve-prefer ipv4 init-addr none check inter 1s fall 2 rise 1
"""

NGINX_MAIN = """user nobody nogroup;
worker_processes 1;
pid /tmp/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path /tmp/body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
{http}
}}
"""  # around an http-context text: the one below, or what `meta proxy render --format nginx` writes

NGINX_HTTP = """    resolver 127.0.0.11 valid=1s ipv6=off;
    resolver_timeout 2s;
    server {{
        listen {port};
        location = {up} {{ return 200 "up\\n"; }}
        location / {{
            set $backend tasks.{backend};
            proxy_pass http://$backend:{backend_port};
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
        }}
    }}"""


def haproxy_config(backend: str, backend_port: int = 80, *, port: int = 80, slots: int = 10) -> str:
    """HAProxy in front of ``tasks.<backend>``: up to ``slots`` tasks, each health-checked every second."""
    return HAPROXY_CFG.format(port=port, up=PROXY_UP, slots=slots, backend=backend, backend_port=backend_port)


def nginx_config(backend: str, backend_port: int = 80, *, port: int = 80) -> str:
    """nginx in front of ``tasks.<backend>``, re-resolved every second, round robin over its addresses."""
    return NGINX_MAIN.format(http=NGINX_HTTP.format(port=port, up=PROXY_UP, backend=backend,
                                                     backend_port=backend_port))


def overlay_network(client, name: str):
    """An attachable overlay network: services and plain containers alike can join it."""
    return client.networks.create(name, driver="overlay", attachable=True, scope="swarm")


def web_service(client, name: str, image: str, *, networks: Sequence[str] = (), replicas: int = 2,
                published: int | None = None, max_per_node: int | None = None,
                constraints: Sequence[str] = (), release: str = "1", labels: dict | None = None):
    """The busybox web service: each task answers ``<task name> <node hostname> <release>``."""
    from docker.types import EndpointSpec, ServiceMode

    ports = {published: (80, "tcp", "host")} if published else None
    return client.services.create(
        image, name=name, networks=list(networks), mode=ServiceMode("replicated", replicas=replicas),
        endpoint_spec=EndpointSpec(mode="dnsrr", ports=ports),
        env=["TASK_NAME={{.Task.Name}}", "NODE_NAME={{.Node.Hostname}}", f"RELEASE={release}"],
        constraints=list(constraints), maxreplicas=max_per_node,
        labels=labels or {}, stop_grace_period=5 * 10**9)


def proxy_service(client, name: str, image: str, *, network: str, backend: str, published: int,
                  backend_port: int = 80, kind: str = "haproxy", config: str | None = None,
                  constraints: Sequence[str] = ("node.role==manager",)):
    """One proxy task on ``network`` in front of ``backend``, its port published in host mode on its node.

    ``config`` replaces the generated configuration (HAProxy's, or nginx's
    when ``kind="nginx"``); it is handed to the task as a swarm config. The
    proxy runs under docker-init: HAProxy as PID 1 ignores SIGTERM, and
    every stop of the task would wait out the grace period.
    """
    from docker.types import ConfigReference, EndpointSpec, ServiceMode

    if config is None:
        config = haproxy_config(backend, backend_port) if kind == "haproxy" else nginx_config(backend, backend_port)
    stored = client.configs.create(name=f"{name}-{uuid.uuid4().hex[:8]}", data=config.encode())
    target = HAPROXY_CONFIG if kind == "haproxy" else NGINX_CONFIG
    return client.services.create(
        image, name=name, networks=[network], mode=ServiceMode("replicated", replicas=1),
        endpoint_spec=EndpointSpec(mode="dnsrr", ports={published: (80, "tcp", "host")}),
        configs=[ConfigReference(stored.id, stored.name, filename=target)],
        constraints=list(constraints), init=True, stop_grace_period=5 * 10**9)


def scale(client, service: str, replicas: int) -> None:
    """Set ``service``'s replica count and nothing else.

    (docker-py's ``Service.scale`` sends a rebuilt task template, which Swarm
    takes for a new spec and rolls out to every task.)
    """
    current = client.services.get(service)
    spec = current.attrs["Spec"]
    mode = dict(spec["Mode"], Replicated={"Replicas": replicas})
    client.api.update_service(current.id, current.version, task_template=spec["TaskTemplate"], name=spec["Name"],
                              labels=spec.get("Labels"), mode=mode, update_config=spec.get("UpdateConfig"),
                              rollback_config=spec.get("RollbackConfig"), endpoint_spec=spec.get("EndpointSpec"))


def running_tasks(client, service: str) -> list[dict]:
    """The tasks of ``service`` that Swarm wants running and that are running."""
    tasks = client.services.get(service).tasks(filters={"desired-state": "running"})
    return [t for t in tasks if t["Status"]["State"] == "running"]


def wait_running(client, service: str, replicas: int, seconds: float = 120) -> list[dict]:
    """Wait until ``replicas`` tasks of ``service`` run (healthy, when the image has a HEALTHCHECK)."""
    deadline = time.monotonic() + seconds
    tasks: list[dict] = []
    while time.monotonic() < deadline:
        tasks = running_tasks(client, service)
        if len(tasks) == replicas:
            return tasks
        time.sleep(0.5)
    states = [(t["Status"]["State"], t["Status"].get("Err", "")) for t in
              client.services.get(service).tasks(filters={"desired-state": "running"})]
    raise AssertionError(f"{service}: {len(tasks)} of {replicas} tasks running after {seconds:g}s: {states}")


def task_names(tasks: list[dict], service: str) -> set[str]:
    """``service.slot.taskid``, the name each task answers with (``{{.Task.Name}}``)."""
    return {f"{service}.{t['Slot']}.{t['ID']}" for t in tasks}


@contextlib.contextmanager
def removed_afterwards(client, seconds: float = 60) -> Iterator[None]:
    """Remove the services, configs and networks made in the block, waiting until Swarm lets them go."""
    before = {s.id for s in client.services.list()} | {c.id for c in client.configs.list()} | {
        n.id for n in client.networks.list()}
    try:
        yield
    finally:
        for service in client.services.list():
            if service.id not in before:
                service.remove()

        def left() -> list:
            return [x for x in [*client.configs.list(), *client.networks.list()] if x.id not in before]

        deadline = time.monotonic() + seconds
        while (remaining := left()) and time.monotonic() < deadline:
            for thing in remaining:
                with contextlib.suppress(Exception):  # in use until the tasks using it are gone
                    thing.remove()
            if left():
                time.sleep(0.5)
        if left():
            raise AssertionError(f"still there {seconds:g}s after the test: {left()}")
