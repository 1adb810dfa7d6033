"""`meta logs` refuses bad input in one line (exit 2) before it asks any engine, and says when none answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_meta
from tests.logs.fleet import meta_repo

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/metarepo-test.sock"}


@pytest.fixture
def swarm_meta(tmp_path: Path) -> Path:
    return meta_repo(tmp_path / "meta", ["orders"], {"staging": {"target": "swarm"},
                                                     "shipped": {"logging": {"driver": "splunk"}}})


@pytest.mark.parametrize("args,line", [
    (("staging", "--since", "10x"), "meta: --since '10x': not a duration like 10m, 2h or 30s, or an RFC 3339 time "
                                    "like 2026-05-01T12:00:00Z"),
    (("staging", "--since", "2026-05-01T12:00"), "meta: --since '2026-05-01T12:00': an RFC 3339 time needs seconds "
                                                 "and its zone (Z or +02:00)"),
    (("staging", "--grep", "(unclosed"), "meta: --grep: not a regular expression: '(unclosed' (missing ) at "
                                         "position 9)"),
    (("nowhere",), "meta: unknown environment 'nowhere' (known: shipped, staging) (add it under "
                   "metarepo.environments in .meta)"),
    (("shipped",), "meta: metarepo.environments.shipped.logging.driver: unknown log driver 'splunk' (one of syslog, "
                   "gelf, fluentd, journald, json-file, local)"),
    (("staging", "--include-only", "nosuch"), "meta: no project 'nosuch' in the manifest"),
])
def test_bad_input_is_one_line_and_exit_2(swarm_meta, args, line):
    proc = run_meta("logs", *args, cwd=swarm_meta, env=NO_ENGINE)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (2, "", [line])


def test_an_engine_that_does_not_answer_is_one_line(swarm_meta):
    proc = run_meta("logs", "staging", cwd=swarm_meta, env=NO_ENGINE)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == ["meta: cannot reach the Docker engine at unix:///nonexistent/metarepo-test.sock"
                                        ": no such file or directory (is the Docker engine running? is DOCKER_HOST "
                                        "right?)"]


def test_its_help_imports_no_heavy_library():
    import subprocess
    import sys

    from tests.cli.test_main import HEAVY

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "metarepo", "logs", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "JSON Lines" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {*HEAVY, "regex", "urllib3"}, imported & {*HEAVY, "regex", "urllib3"}
