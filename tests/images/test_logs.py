"""`meta logs` against the suite's real engine and swarm, and an environment's syslog driver into real rsyslog.

The services are FROM scratch busybox images that print known lines with
known gaps, on stdout and stderr (``PRINTER``). The merge is checked
against each container's own timestamps, read from the engine directly.
(These tests live beside the engine's fixtures: a second copy of those
session fixtures would start a second engine.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import git, run_meta
from tests.images.conftest import meta_docker
from tests.logs.fleet import meta_repo

pytestmark = pytest.mark.docker

PRINTER = """#!/bin/busybox sh
# NAME's lines 1..COUNT, odd ones on stdout and even ones on stderr, GAP seconds apart; then, with TICK,
# a tick every TICK seconds; then idles.
i=1
while [ $i -le $COUNT ]; do
  if [ $((i % 2)) -eq 0 ]; then echo "$NAME err $i" >&2; else echo "$NAME out $i"; fi
  /bin/busybox sleep $GAP
  i=$((i+1))
done
echo "$NAME done"
if [ -n "$TICK" ]; then n=0; while :; do n=$((n+1)); echo "$NAME tick $n"; /bin/busybox sleep $TICK; done; fi
if [ -n "$BURST" ]; then
  while :; do /bin/busybox seq 1 $BURST | /bin/busybox sed "s/^/$NAME chatter line /"; /bin/busybox sleep 0.05; done
fi
trap "exit 0" TERM
/bin/busybox sleep 2147483647 & wait
"""
STAGING = {"staging": {"target": "swarm"}}
SERVICES = {"alpha": {"COUNT": "6", "GAP": "0.15"}, "bravo": {"COUNT": "6", "GAP": "0.2"},
            "charlie": {"COUNT": "6", "GAP": "0.1", "TICK": "0.5"}}


def build_printer(engine, client, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(engine.busybox, folder / "busybox")
    (folder / "printer.sh").write_text(PRINTER)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\nCOPY printer.sh /printer.sh\n"
                                       'ENTRYPOINT ["/bin/busybox", "sh", "/printer.sh"]\n')
    image = f"{engine.registry}/logs/printer:1"
    client.images.build(path=str(folder), tag=image)
    client.images.push(image)
    return image


def start(client, image: str, name: str, env: dict[str, str], **options):
    return client.services.create(image, name=name, env=[f"{k}={v}" for k, v in env.items()],
                                  labels={"io.metarepo.project": f"services/{name}"}, **options)


def container_lines(client, name: str) -> list[tuple[str, str, str, str]]:
    """(time, service, stream, text) of the service's container, as the engine logged it."""
    found = []
    for task in client.api.tasks(filters={"service": name}):
        container = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
        if not container:
            continue
        for stream in ("stdout", "stderr"):
            raw = client.api.logs(container, stdout=stream == "stdout", stderr=stream == "stderr", timestamps=True)
            for line in raw.decode().splitlines():
                stamp, _, text = line.partition(" ")
                found.append((stamp, name, stream, text))
    return found


def wait_for_line(client, name: str, text: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not any(t == text for _, _, _, t in container_lines(client, name)):
        assert time.monotonic() < deadline, f"{name} never printed {text!r}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def printers(engine, docker_client, tmp_path_factory):
    """alpha, bravo and charlie running, each done with its known lines (charlie keeps ticking)."""
    image = build_printer(engine, docker_client, tmp_path_factory.mktemp("printer"))
    services = [start(docker_client, image, name, {"NAME": name, **env}) for name, env in SERVICES.items()]
    try:
        for name in SERVICES:
            wait_for_line(docker_client, name, f"{name} done")
        yield {"image": image, "root": meta_repo(tmp_path_factory.mktemp("logs") / "meta", [*SERVICES, "ghost"],
                                                 STAGING)}
    finally:
        for service in services:
            service.remove()


def logs(engine, root: Path, *args: str):
    return meta_docker(engine, "logs", "staging", *args, cwd=root, timeout=120)


def test_three_services_merge_in_the_order_of_their_containers_own_times(printers, engine, docker_client):
    expected = sorted(line for name in SERVICES for line in container_lines(docker_client, name))
    proc = logs(engine, printers["root"], "--json")
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    got = [(l["time"], l["service"], l["stream"], l["line"]) for l in got if l["time"] <= expected[-1][0]]
    assert got == expected
    assert ("alpha", "stderr", "alpha err 2") in {(s, k, t) for _, s, k, t in got}
    assert {s for _, s, _, _ in got} == set(SERVICES)
    assert proc.stderr == "note: ghost: not running in staging (no such Swarm service)\n"


def test_text_grep_and_since(printers, engine, docker_client):
    proc = logs(engine, printers["root"], "--grep", r"err [24]$", "--exclude", "ghost")
    assert proc.returncode == 0 and proc.stderr == ""
    assert sorted(proc.stdout.splitlines()) == sorted(f"{name:<7} | {name} err {n}" for name in SERVICES
                                                      for n in (2, 4))
    alpha = sorted(container_lines(docker_client, "alpha"))
    since = alpha[3][0]  # alpha's fourth line: it and the later ones
    proc = logs(engine, printers["root"], "--since", since, "--include-only", "alpha", "-t")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{stamp} alpha | {text}" for stamp, _, _, text in alpha[3:]]
    proc = logs(engine, printers["root"], "--since", "1h", "--include-only", "alpha")
    assert len(proc.stdout.splitlines()) == len(alpha)


def test_follow_prints_a_line_written_after_it_started_and_ctrl_c_ends_it_cleanly(printers, engine):
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    proc = subprocess.Popen([sys.executable, "-m", "metarepo", "logs", "staging", "-f", "-t", "--exclude", "ghost"],
                            cwd=printers["root"], env={**os.environ, **engine.env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if " charlie | charlie tick " in line and line.split()[0] > started:
                break
        assert " charlie | charlie tick " in seen[-1] and seen[-1].split()[0] > started, seen[-5:]
        assert "alpha   | alpha out 1\n" in {line.split(" ", 1)[1] for line in seen}
        times = [line.split()[0] for line in seen]
        assert times == sorted(times)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert [line for line in err.splitlines() if line] == ["meta: interrupted"]  # click writes a newline first


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_following_a_chatty_fleet_with_a_slow_reader_keeps_memory_flat(printers, engine, docker_client, tmp_path):
    chatty = [start(docker_client, printers["image"], name, {"NAME": name, "COUNT": "0", "GAP": "0", "BURST": "400"},
                    log_driver="json-file", log_driver_options={"max-size": "4m", "max-file": "2"})
              for name in ("chatty1", "chatty2")]
    root = meta_repo(tmp_path / "meta", ["chatty1", "chatty2"], STAGING)
    try:
        for name in ("chatty1", "chatty2"):
            wait_for_line(docker_client, name, f"{name} done")
        proc = subprocess.Popen([sys.executable, "-m", "metarepo", "logs", "staging", "-f", "--since", "1s"],
                                cwd=root, env={**os.environ, **engine.env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            os.set_blocking(proc.stdout.fileno(), False)

            def drain(seconds: float) -> int:
                read, end = 0, time.monotonic() + seconds
                while time.monotonic() < end:
                    chunk = proc.stdout.read(1 << 16)
                    read += len(chunk or b"")
                    if not chunk:
                        time.sleep(0.01)
                return read

            assert drain(2.0) > 0  # lines flow
            before = rss_kib(proc.pid)
            samples = []
            for _ in range(10):  # nobody reads for 5 s: meta must stop reading the engine, not buffer
                time.sleep(0.5)
                samples.append(rss_kib(proc.pid))
            assert drain(1.5) > 0  # and it goes on once read again
            samples.append(rss_kib(proc.pid))
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=15)
        assert proc.returncode == 130, err
        assert max(samples) - before < 8 * 1024, (before, samples)
    finally:
        for service in chatty:
            service.remove()


SHOUT = """#!/bin/busybox sh
echo "shout hello $TOKEN"
echo "shout warning $TOKEN" >&2
trap "exit 0" TERM
/bin/busybox sleep 2147483647 & wait
"""


def shout_workspace(tmp_path: Path, engine, logging: dict) -> Path:
    """A meta repo with one service, shout, whose staging environment ships logs with ``logging``."""
    from make_fleet import publish

    src, remotes = tmp_path / "src" / "shout", tmp_path / "remotes"
    src.mkdir(parents=True)
    remotes.mkdir()
    shutil.copy2(engine.busybox, src / "busybox")
    (src / "shout.sh").write_text(SHOUT)
    (src / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\nCOPY shout.sh /shout.sh\n'
                                    'ENV TOKEN=t0\nENTRYPOINT ["/bin/busybox", "sh", "/shout.sh"]\n')
    publish(src, remotes / "shout.git")
    meta = tmp_path / "meta-src"
    meta.mkdir()
    (meta / ".meta").write_text(json.dumps({
        "projects": {"services/shout": f"file://{remotes}/shout.git"},
        "metarepo": {"defaults": {"registry": f"{engine.registry}/logs"}, "environments": {"staging": {
            "target": "swarm", "timeout": 60, "update": {"monitor": 1}, "logging": logging}}}}, indent=2) + "\n")
    publish(meta, remotes / "meta.git")
    root = tmp_path / "ws"
    proc = run_meta("clone", f"file://{remotes}/meta.git", str(root))
    assert proc.returncode == 0, proc.stderr
    return root


def test_a_services_line_reaches_syslog_tagged_with_its_name(rsyslog, engine, docker_client, tmp_path):
    address = f"tcp://127.0.0.1:{rsyslog.port}"
    root = shout_workspace(tmp_path, engine, {"driver": "syslog", "options": {"syslog-address": address}})
    try:
        proc = meta_docker(engine, "build", "--push", cwd=root)
        assert proc.returncode == 0, proc.stderr
        proc = meta_docker(engine, "rollout", "staging", cwd=root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        spec = docker_client.api.inspect_service("shout")["Spec"]["TaskTemplate"]["LogDriver"]
        assert spec == {"Name": "syslog", "Options": {"syslog-address": address, "tag": "shout"}}
        record = rsyslog.wait_for("shout", "shout hello t0")
        assert record.program == "shout" and record.message == "shout hello t0"
        assert rsyslog.wait_for("shout", "shout warning t0").program == "shout"

        # the engine keeps a copy (Docker 20.10's dual logging), so meta logs reads them back too
        proc = meta_docker(engine, "logs", "staging", cwd=root)
        assert (proc.returncode, proc.stderr) == (0, "")  # (the engine times stdout and stderr as it reads each)
        assert sorted(proc.stdout.splitlines()) == ["shout | shout hello t0", "shout | shout warning t0"]

        # without that copy, the engine answers with nothing: meta logs says where the lines are
        data = json.loads((root / ".meta").read_text())
        data["metarepo"]["environments"]["staging"]["logging"]["options"]["cache-disabled"] = "true"
        (root / ".meta").write_text(json.dumps(data, indent=2) + "\n")
        git("commit", "-qam", "no local copy", cwd=root)
        proc = meta_docker(engine, "rollout", "staging", cwd=root)
        assert proc.returncode == 0, proc.stdout + proc.stderr  # a changed LogDriver is an update, not "unchanged"
        proc = meta_docker(engine, "logs", "staging", cwd=root)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr.splitlines() == [
            f"note: shout: its lines go to syslog at {address} (tag shout); the engine keeps no copy "
            "(cache-disabled), so read them there",
            "meta: logs staging: none of the selected services could be read there"]
    finally:
        for service in docker_client.services.list(filters={"name": "shout"}):
            service.remove()
