"""Bad input and faults: a broker that cannot be reached, wrong or missing credentials, a missing vhost;
and the password, which is never printed: not in an error, not in --json, not in a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from tests.broker.env import Broker, configure
from tests.conftest import run_meta


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once it is closed


def one_line(proc, status: int) -> str:
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr.strip()


@pytest.mark.parametrize("command", ["apply", "check", "probe"])
def test_a_broker_that_cannot_be_reached_is_one_line(workspace: Path, command: str):
    port = closed_port()
    configure(workspace, None, url=f"http://127.0.0.1:{port}")
    proc = run_meta("broker", command, "staging", cwd=workspace,
                    env={"META_BROKER_USER": "someone", "META_BROKER_PASSWORD": "pw-not-shown-1"})
    line = one_line(proc, 1)
    assert line.startswith(f"meta: broker http://127.0.0.1:{port} cannot be reached: connection refused")
    assert "pw-not-shown-1" not in line


def test_wrong_credentials_name_the_user_never_the_password(broker: Broker, broker_workspace: Path):
    proc = run_meta("broker", "apply", "staging", cwd=broker_workspace,
                    env={"META_BROKER_USER": broker.rabbitmq.user, "META_BROKER_PASSWORD": "wrong-pw-4417"})
    line = one_line(proc, 1)
    assert f"refused user '{broker.rabbitmq.user}' (401 Unauthorized)" in line
    assert "META_BROKER_PASSWORD" in line and "wrong-pw-4417" not in proc.stdout + proc.stderr
    assert broker.names("queues") == set()  # nothing was done


def test_missing_credentials_and_a_missing_vhost(broker: Broker, broker_workspace: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("META_BROKER_")}
    proc = subprocess.run([sys.executable, "-m", "metarepo", "broker", "check", "staging"], cwd=broker_workspace,
                          env=env, capture_output=True, text=True)
    assert "META_BROKER_USER and META_BROKER_PASSWORD are not set" in one_line(proc, 2)
    configure(broker_workspace, broker, vhost="no-such-vhost")
    proc = run_meta("broker", "apply", "staging", cwd=broker_workspace, env=broker.env)
    assert "has no vhost 'no-such-vhost'" in one_line(proc, 2)


def test_the_password_is_never_printed(broker: Broker, broker_workspace: Path):
    ws = broker_workspace
    outputs = []
    for args in (["apply", "staging"], ["apply", "staging", "--json"], ["check", "staging", "--json"],
                 ["plan", "staging", "--json"], ["probe", "staging", "--json"], ["probe", "staging"]):
        proc = run_meta("broker", *args, cwd=ws, env=broker.env)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    assert json.loads(outputs[3])  # the plan's JSON carries the url (which holds no credentials)
    assert not [out for out in outputs if broker.password in out]


def test_no_traceback_or_error_carries_the_password(broker: Broker, broker_workspace: Path):
    """A bug's traceback, printed by the error boundary, and the errors' whole chains, formatted."""
    crash = ("import sys; import metarepo.broker.live as live\n"
             "def broken(client, **options): raise RuntimeError('a bug, for the test')\n"
             "live.read_live = broken\n"
             "from metarepo.cli.main import main\n"
             "sys.argv = ['meta', 'broker', 'check', 'staging']\n"
             "main()\n")
    proc = subprocess.run([sys.executable, "-c", crash], cwd=broker_workspace, env={**os.environ, **broker.env},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and "Traceback" in proc.stderr and "a bug, for the test" in proc.stderr
    assert broker.password not in proc.stderr + proc.stdout

    from metarepo.broker.apply import apply_topology
    from metarepo.broker.client import Management
    from metarepo.broker.settings import BrokerSettings, Credentials
    from metarepo.broker.topology import Topology
    from metarepo.errors import MetaError

    empty = Topology(broker.vhost, (), (), (), (), ())
    secret = Credentials(broker.rabbitmq.user, "s3cret-in-a-traceback")
    for url in (broker.rabbitmq.url, f"http://127.0.0.1:{closed_port()}"):
        client = Management(BrokerSettings("staging", url, broker.vhost), secret)
        with pytest.raises(MetaError) as caught:
            apply_topology(client, empty)
        shown = "".join(traceback.format_exception(caught.value)) + repr(client) + repr(secret) + str(secret)
        assert "s3cret-in-a-traceback" not in shown
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
