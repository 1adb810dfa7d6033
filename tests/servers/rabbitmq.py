"""RabbitMQ with its management plugin, a node of its own on free 127.0.0.1 ports.

`running_rabbitmq()` runs the broker's own start script
(``/usr/lib/rabbitmq/bin/rabbitmq-server``: Debian's ``/usr/sbin`` wrapper
would ``cd /var/lib/rabbitmq`` and ``su`` to a fresh environment) as the
``rabbitmq`` user when the suite runs as root, every path it uses in a temp
dir that user owns: config, advanced config, env file, enabled plugins
(``[rabbitmq_management].``), mnesia, logs, pid file, and ``HOME`` with the
Erlang cookie. Its node is ``metatest-<random>@localhost``; AMQP, the
management API and Erlang distribution listen on free 127.0.0.1 ports, and
it registers with an ``epmd`` the fixture starts itself on a free port
(``ERL_EPMD_PORT``), so the host's epmd on 4369, if any, is never used,
started or stopped. The default user is ``metatest`` with a password made
for this run (in the config file only: never on a command line or printed).
``RUNNING_UNDER_SYSTEMD`` makes the script exec the Erlang VM, so the pid
started is ``beam.smp``'s.

It is ready when ``GET /api/overview`` with those credentials answers 200
(some 10-15 s after start) and the AMQP port accepts. It is stopped by its
pid with SIGTERM (the broker's graceful shutdown, what ``rabbitmqctl stop``
asks for), then its epmd by its pid.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tests.servers.process import free_port, installed, port_open, running, temp_dir
from tests.servers.web import Reply, call

PACKAGES = {"rabbitmq-server": "rabbitmq-server", "epmd": "erlang-base"}
SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
USER = "metatest"


@dataclass(frozen=True)
class RabbitMQ:
    base: Path
    node: str
    amqp_port: int
    management_port: int
    process: subprocess.Popen  # beam.smp
    password: str = field(repr=False)
    user: str = USER

    @property
    def url(self) -> str:
        """The management API's root, without credentials."""
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def auth(self) -> tuple[str, str]:
        return self.user, self.password

    def api(self, path: str, method: str = "GET", data: Any = None) -> Reply:
        """A management API call as the fixture's user: ``api("queues/%2F/orders", "PUT", {...})``."""
        return call(f"{self.url}/api/{path}", method, data=data, auth=self.auth)


@contextlib.contextmanager
def running_rabbitmq(seconds: float = 120, config: str = "") -> Iterator[RabbitMQ]:
    """``config``: more lines for rabbitmq.conf (the benchmarks' longer HTTP timeouts, say)."""
    owner = "rabbitmq" if os.geteuid() == 0 else None  # as root, drop to the package's user like its wrapper
    with temp_dir("rabbitmq") as base:
        amqp, management, dist, epmd_port = free_port(), free_port(), free_port(), free_port()
        password = secrets.token_urlsafe(24)
        node = f"metatest-{secrets.token_hex(4)}@localhost"
        _write_files(base, amqp, management, password, owner, config)
        env = _environment(base, node, dist, epmd_port)
        epmd = [installed("epmd") or "epmd", "-port", str(epmd_port), "-address", "127.0.0.1"]
        with running(epmd, what="epmd", log=base / "epmd.log", cwd=base, env=env, user=owner, seconds=30,
                     ready=lambda: port_open(epmd_port)):
            log = base / "rabbitmq-server.out"
            with running([str(SCRIPT)], what="rabbitmq-server", log=log, cwd=base, env=env, user=owner,
                         seconds=seconds, logs=[base / "log" / f"{node}.log"],
                         ready=lambda: port_open(amqp) and _overview(management, password)) as proc:
                yield RabbitMQ(base, node, amqp, management, proc, password)


def _overview(port: int, password: str) -> bool:
    with contextlib.suppress(OSError):
        return call(f"http://127.0.0.1:{port}/api/overview", auth=(USER, password), timeout=5).status == 200
    return False


def _write_files(base: Path, amqp: int, management: int, password: str, owner: str | None,
                 config: str = "") -> None:
    for folder in ("mnesia", "log", "conf.d"):
        (base / folder).mkdir()
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
        "management.tcp.ip = 127.0.0.1\n"
        f"management.tcp.port = {management}\n"
        f"default_user = {USER}\n"
        f"default_pass = {password}\n"
        "log.console = false\n"
        "log.file.level = info\n" + config)
    (base / "rabbitmq.conf").chmod(0o600)
    (base / "advanced.config").write_text("[].\n")
    (base / "rabbitmq-env.conf").write_text("")  # instead of /etc/rabbitmq/rabbitmq-env.conf
    (base / "enabled_plugins").write_text("[rabbitmq_management].\n")
    cookie = base / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(20))
    cookie.chmod(0o400)
    if owner is not None:
        account = pwd.getpwnam(owner)
        for path in [base, *base.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)


def _environment(base: Path, node: str, dist: int, epmd_port: int) -> dict[str, str]:
    """The start script's whole environment: nothing of the suite's, every RabbitMQ path in ``base``."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        "HOME": str(base),  # the Erlang cookie
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "ERL_EPMD_PORT": str(epmd_port), "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RUNNING_UNDER_SYSTEMD": "true",  # exec the VM: the pid we start is beam.smp's
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_CONFIG_FILES": str(base / "conf.d"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_MOTD_FILE": str(base / "motd"),
    }
