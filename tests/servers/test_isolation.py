"""Every server listens on 127.0.0.1 only, and leaves nothing behind: no process, no file outside its temp dir."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.servers import alertmanager, haproxy, nginx, prometheus, rsyslog
from tests.servers.fixtures import require
from tests.servers.process import free_port, group_members, listening, port_open

SERVERS = {
    "haproxy": (haproxy.PACKAGES, lambda: haproxy.running_haproxy(
        f"frontend edge\n    mode http\n    bind 127.0.0.1:{free_port()}\n    timeout client 5s\n")),
    "nginx": (nginx.PACKAGES, lambda: nginx.running_nginx(f"server {{ listen 127.0.0.1:{free_port()}; }}")),
    "prometheus": (prometheus.PACKAGES, prometheus.running_prometheus),
    "alertmanager": (alertmanager.PACKAGES, alertmanager.running_alertmanager),
    "rsyslog": (rsyslog.PACKAGES, rsyslog.running_rsyslog),
}
# Where the packaged services keep their state, logs and pid files: a server the suite starts touches none.
PACKAGED = ["/var/lib/haproxy", "/run/haproxy", "/run/haproxy.pid", "/var/lib/nginx", "/var/log/nginx",
            "/run/nginx.pid", "/var/lib/prometheus", "/var/log/prometheus", "/run/prometheus",
            "/var/spool/rsyslog", "/run/rsyslogd.pid", "/var/log/syslog", "/var/log/messages"]


def footprint() -> set[tuple[str, int, int]]:
    found = set()
    for root in map(Path, PACKAGED):
        for path in [root, *root.rglob("*")] if root.is_dir() else [root]:
            with contextlib.suppress(OSError):
                stat = path.lstat()
                found.add((str(path), stat.st_mtime_ns, stat.st_size))
    return found


@pytest.mark.parametrize("name", SERVERS)
def test_a_server_listens_on_loopback_only_and_leaves_nothing_behind(name: str):
    packages, start = SERVERS[name]
    require(packages, name)
    before = footprint()
    with start() as server:
        pids = set(group_members(server.process.pid))
        ports = listening(pids)
        assert ports and all(address.startswith("127.0.0.1:") for address in ports), ports
        base = server.base
    assert not group_members(server.process.pid) and not base.exists()
    assert not any(port_open(int(address.rsplit(":", 1)[1])) for address in ports)
    assert footprint() == before
