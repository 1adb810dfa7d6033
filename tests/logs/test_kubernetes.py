"""`meta logs` on Kubernetes, at the kubectl seam: a fake kubectl answering with kubectl's own output format.

No cluster can be reached from the test machines (see tests/images/fake_kubectl.py for how the recorded
output was written).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_meta
from tests.images.fake_kubectl import FakeKubectl, recorded
from tests.logs.fleet import meta_repo

SELECT = "--selector=app.kubernetes.io/name="


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch) -> FakeKubectl:
    return FakeKubectl(tmp_path, monkeypatch)


@pytest.fixture
def cluster_meta(tmp_path: Path) -> Path:
    """A meta repo whose production environment is a Kubernetes cluster."""
    return meta_repo(tmp_path / "meta", ["orders", "billing", "shipping"], {"production": {
        "target": "kubernetes", "context": "prod-cluster", "namespace": "shop"}})


def script_history(kubectl: FakeKubectl) -> None:
    kubectl.reply("logs", match=(SELECT + "orders",), out=recorded("logs-orders.out"))
    kubectl.reply("logs", match=(SELECT + "billing",), out=recorded("logs-billing.out"))
    kubectl.reply("logs", match=(SELECT + "shipping",), err=recorded("logs-no-pods.err"))


def test_every_pods_lines_are_merged_in_time_order(kubectl, cluster_meta):
    script_history(kubectl)
    proc = run_meta("logs", "production", "--json", cwd=cluster_meta)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(l["service"], l["line"]) for l in lines] == [
        ("orders", "orders up"), ("orders", "orders up"), ("billing", "billing up"),
        ("orders", "order 1 created"), ("billing", "invoice 1 sent for order 1"), ("orders", "order 2 created")]
    assert lines[0] == {"service": "orders", "time": "2026-05-01T12:00:00.100000000Z", "stream": None,
                        "line": "orders up"}
    assert lines[2]["time"] == "2026-05-01T12:00:01.000000001Z"
    assert proc.stderr == "note: shipping: not running in production (no pod has app.kubernetes.io/name=shipping)\n"
    argv = next(a for a in kubectl.argvs if SELECT + "orders" in a)
    assert argv == ["--context", "prod-cluster", "--namespace", "shop", "logs", SELECT + "orders", "--timestamps",
                    "--prefix", "--tail=-1"]


def test_text_is_prefixed_with_the_service_plain_in_a_pipe_and_grep_and_since_apply(kubectl, cluster_meta):
    script_history(kubectl)
    proc = run_meta("logs", "production", "--grep", "order [12]", "--since", "2026-05-01T11:00:00Z", "-t",
                    cwd=cluster_meta)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "2026-05-01T12:00:02.500000000Z orders   | order 1 created",
        "2026-05-01T12:00:02.750000000Z billing  | invoice 1 sent for order 1",
        "2026-05-01T12:00:03.000000000Z orders   | order 2 created"]
    assert all("--since-time=2026-05-01T11:00:00.000000Z" in a for a in kubectl.argvs)


def test_colour_only_on_a_terminal_and_never_with_no_color(kubectl, cluster_meta):
    import pty

    def on_a_terminal(extra: dict) -> bytes:
        kubectl.replies.clear()
        (kubectl.state / "used.json").unlink(missing_ok=True)
        script_history(kubectl)
        leader, follower = pty.openpty()
        proc = subprocess.run([sys.executable, "-m", "metarepo", "logs", "production", "--include-only", "orders"],
                              cwd=cluster_meta, stdout=follower, stderr=subprocess.DEVNULL,
                              env={**os.environ, **extra}, timeout=60)
        os.close(follower)
        assert proc.returncode == 0
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(leader)
        return out

    coloured = on_a_terminal({"NO_COLOR": ""})
    assert b"\x1b[36morders\x1b[0m | orders up" in coloured
    assert b"\x1b[" not in on_a_terminal({"NO_COLOR": "1"})


def test_follow_prints_what_comes_later_and_ctrl_c_ends_it_cleanly(kubectl, cluster_meta):
    later = "[pod/orders-7d4b9c8f6d-2xk9p/orders] 2026-05-01T12:00:09Z order 3 created\n"
    kubectl.reply("logs", match=(SELECT + "orders",), out=recorded("logs-orders.out"), later=later,
                  later_after=1.0, hold=60)
    kubectl.reply("logs", match=(SELECT + "billing",), out=recorded("logs-billing.out"), hold=60)
    proc = subprocess.Popen([sys.executable, "-m", "metarepo", "logs", "production", "-f", "--exclude", "shipping"],
                            cwd=cluster_meta, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line.rstrip("\n"))
        if "order 3 created" in line:
            break
    assert seen[-1] == "orders  | order 3 created", seen
    assert seen[:6] == ["orders  | orders up", "orders  | orders up", "billing | billing up",
                        "orders  | order 1 created", "billing | invoice 1 sent for order 1",
                        "orders  | order 2 created"]
    argv = next(a for a in kubectl.argvs if SELECT + "orders" in a)
    assert "--follow" in argv and "--max-log-requests=50" in argv
    pids = [kubectl.pid(0), kubectl.pid(1)]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "meta: interrupted" and "Traceback" not in err
    for pid in pids:  # each kubectl was ended with it
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_kubectls_own_refusal_is_a_note_naming_the_service(kubectl, cluster_meta):
    kubectl.reply("logs", match=(SELECT + "orders",), err=recorded("logs-follow-limit.err"), rc=1)
    kubectl.reply("logs", match=(SELECT + "billing",), out=recorded("logs-billing.out"))
    proc = run_meta("logs", "production", "-f", "--exclude", "shipping", cwd=cluster_meta, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["billing | billing up", "billing | invoice 1 sent for order 1"]
    assert proc.stderr == ("note: orders: kubectl logs failed: error: you are attempting to follow 51 log streams, "
                           "but maximum allowed concurrency is 50, use --max-log-requests to increase the limit\n")


def test_a_cluster_that_cannot_be_reached_is_one_line(kubectl, cluster_meta):
    for name in ("orders", "billing", "shipping"):
        kubectl.reply("logs", match=(SELECT + name,), err=recorded("get-unreachable.err"), rc=1)
    proc = run_meta("logs", "production", cwd=cluster_meta)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "meta: cannot reach the Kubernetes cluster: Unable to connect to the server: dial tcp: lookup "
        "prod-cluster.acme.io on 127.0.0.53:53: no such host (is the context right? set `context` for production "
        "in .meta or check `kubectl config current-context`)"]


def test_no_kubectl_is_one_line(cluster_meta, tmp_path):
    proc = run_meta("logs", "production", cwd=cluster_meta, env={"PATH": str(tmp_path)})
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "meta: kubectl not found ('kubectl' is not on PATH) (install kubectl and set `context` for production in "
        ".meta (or the current kubectl context))"]
