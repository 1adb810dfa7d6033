"""The Docker engine: one client per command, from ``DOCKER_HOST`` or an environment's ``docker_host``.

A remote engine (``tcp://``, ``ssh://``) or a BuildKit-backed builder host
is how a team scales builds past one machine; nothing here assumes the
engine is local. An engine that does not answer is one line of advice, not
a traceback from deep inside requests.
"""

from __future__ import annotations

import os
from typing import Any

from metarepo.errors import EngineUnavailable
from metarepo.urls import redact, redact_text

_HINT = "is the Docker engine running? is DOCKER_HOST right?"


def engine_address(docker_host: str | None = None) -> str:
    """The engine a client will talk to, as the user would write it."""
    return docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(docker_host: str | None = None, *, timeout: float = 120, pool: int = 10) -> Any:
    """A ``docker.DockerClient`` that has answered a ping; ``EngineUnavailable`` if it does not."""
    import docker
    from docker.errors import DockerException

    address = engine_address(docker_host)
    kwargs: dict[str, Any] = {"timeout": timeout, "max_pool_size": pool}
    if address.startswith("ssh://"):
        kwargs["use_ssh_client"] = True  # the system's ssh: its config, agent and known hosts
    try:
        client = docker.DockerClient(base_url=address, version="auto", **kwargs)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailable(f"cannot reach the Docker engine at {redact(address)}: {first_line(exc)}",
                                hint=_HINT) from None
    except Exception as exc:  # noqa: BLE001 - requests/urllib3 errors under an unreachable engine
        raise EngineUnavailable(f"cannot reach the Docker engine at {redact(address)}: {first_line(exc)}",
                                hint=_HINT) from None
    return client


def first_line(exc: BaseException) -> str:
    """The part of a docker/requests error worth one line."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    # requests nests the real reason: "...(Caused by NewConnectionError(... [Errno 111] Connection refused'))"
    for marker in ("Connection refused", "No such file or directory", "Name or service not known",
                   "timed out", "Permission denied"):
        if marker in text:
            return marker.lower() if marker != "timed out" else "timed out"
    return redact_text(text.splitlines()[0] if text else type(exc).__name__)[:300]
