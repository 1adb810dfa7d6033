from __future__ import annotations

import os
from pathlib import Path

from tests.servers.rsyslog import PROBE, check_config, config, send_tcp, send_udp


def test_rsyslog_writes_lines_sent_over_tcp_and_udp_with_their_tags(rsyslog):
    send_tcp(rsyslog.port, "<14>1 2024-05-01T10:00:00Z web1 orders 812 - - order 42 placed")
    send_udp(rsyslog.port, "<11>May  1 10:00:01 web1 billing[77]: invoice 9 failed")

    tcp = rsyslog.wait_for("orders", "order 42")
    assert (tcp.host, tcp.tag, tcp.message, tcp.severity) == ("web1", "orders[812]", "order 42 placed", "info")
    udp = rsyslog.wait_for("billing", "invoice 9")
    assert (udp.tag, udp.message, udp.facility, udp.severity) == ("billing[77]:", "invoice 9 failed", "user", "err")
    programs = {record.program for record in rsyslog.records()}
    assert {"orders", "billing"} <= programs and PROBE not in programs  # the readiness probes are left out
    assert PROBE in rsyslog.messages.read_text()


def test_rsyslog_reads_neither_the_hosts_log_socket_nor_the_kernel_log(rsyslog):
    fds = Path(f"/proc/{rsyslog.process.pid}/fd")
    opened = {os.readlink(fd) for fd in fds.iterdir()}
    assert not {"/dev/log", "/run/systemd/journal/syslog", "/proc/kmsg"} & opened
    files = {path for path in opened if path.startswith("/") and not path.startswith(("/dev/null", "/dev/urandom"))}
    assert files and all(Path(path).is_relative_to(rsyslog.base) for path in files), files


def test_rsyslogd_checks_a_config(rsyslog, tmp_path):
    good = tmp_path / "rsyslog.conf"
    good.write_text(config(tmp_path, 5514))
    (tmp_path / "work").mkdir()
    assert check_config(good).ok, check_config(good).output
    bad = tmp_path / "bad.conf"
    bad.write_text('module(load="imnothing")\n')
    checked = check_config(bad)
    assert not checked.ok and "imnothing" in checked.output
