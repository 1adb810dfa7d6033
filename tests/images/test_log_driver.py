"""An environment's `logging`: validated, and set on every Swarm service a rollout makes (no engine needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from metarepo.errors import ManifestError
from metarepo.images.log_driver import destination, log_driver_spec, readable
from metarepo.images.release import environment_settings
from tests.conftest import git

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/metarepo-test.sock"}
SYSLOG = {"driver": "syslog", "options": {"syslog-address": "tcp://logs.acme.io:514"}}


@pytest.mark.parametrize("raw,key,says", [
    ("syslog", "logging", "must be an object"),
    ({"driver": "splunk"}, "logging.driver", "unknown log driver 'splunk' (one of syslog, gelf, fluentd"),
    ({}, "logging.driver", "unknown log driver None"),
    ({"driver": "gelf", "options": ["a"]}, "logging.options", "must be an object"),
    ({"driver": "gelf", "options": {"gelf-compression-level": 5}}, "logging.options.gelf-compression-level",
     "must be a string, not 5"),
    ({"driver": "syslog", "option": {}}, "logging", "unknown key 'option'"),
])
def test_bad_logging_names_the_key(raw, key, says):
    with pytest.raises(ManifestError) as info:
        environment_settings("e", {"logging": raw})
    assert info.value.key == f"metarepo.environments.e.{key}" and says in info.value.message


def test_every_service_gets_the_driver_and_its_own_tag():
    logging = environment_settings("e", {"logging": SYSLOG}).logging
    assert log_driver_spec(logging, "orders") == {
        "Name": "syslog", "Options": {"syslog-address": "tcp://logs.acme.io:514", "tag": "orders"}}
    tagged = environment_settings("e", {"logging": {"driver": "gelf", "options": {"tag": "{{.Name}}"}}}).logging
    assert log_driver_spec(tagged, "orders")["Options"] == {"tag": "{{.Name}}"}
    local = environment_settings("e", {"logging": {"driver": "local"}}).logging
    assert log_driver_spec(local, "orders") == {"Name": "local", "Options": {}}
    assert log_driver_spec(None, "orders") is None


def test_which_drivers_the_engine_reads_back_and_where_the_others_send_lines():
    assert readable("json-file", {}, "19.03.1") and readable("journald", {}, "19.03.1")
    assert readable("syslog", {}, "20.10.24+dfsg1") and not readable("syslog", {}, "19.03.15")
    assert not readable("fluentd", {"cache-disabled": "true"}, "24.0.7") and not readable("none", {}, "24.0.7")
    assert destination("syslog", {"syslog-address": "udp://l:514"}, "orders") == "syslog at udp://l:514 (tag orders)"
    assert destination("journald", {}, "orders") == "each node's journal (journalctl CONTAINER_TAG=orders)"


def _set_logging(root: Path, env: str, logging: dict) -> None:
    data = json.loads((root / ".meta").read_text())
    data["metarepo"]["environments"][env]["logging"] = logging
    (root / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    git("commit", "-qam", "logging", cwd=root)


def test_a_swarm_dry_run_shows_the_log_driver_in_every_spec(workspace: Path, meta):
    _set_logging(workspace, "staging", SYSLOG)
    proc = meta("rollout", "staging", "--dry-run", "--exclude", "notifications", "--json", cwd=workspace,
                env=NO_ENGINE)
    assert proc.returncode == 0, proc.stderr
    specs = {s["service"]: json.loads(s["detail"]) for s in json.loads(proc.stdout)["services"]}
    assert specs["orders"]["LogDriver"] == {"Name": "syslog", "Options": {"syslog-address": "tcp://logs.acme.io:514",
                                                                          "tag": "orders"}}
    assert specs["billing"]["LogDriver"]["Options"]["tag"] == "billing"


def test_a_kubernetes_rollout_says_the_clusters_log_shipping_applies(workspace: Path, meta, tmp_path: Path):
    _set_logging(workspace, "production", SYSLOG)
    no_kubectl = tmp_path / "bin"
    no_kubectl.mkdir()
    (no_kubectl / "git").symlink_to(shutil.which("git"))
    proc = meta("rollout", "production", "--dry-run", "--include-only", "orders", cwd=workspace,
                env={**NO_ENGINE, "PATH": str(no_kubectl)})
    assert proc.returncode == 0, proc.stderr
    assert ("note: logging (syslog) is not set per Deployment on Kubernetes: the cluster's own log shipping"
            in proc.stderr)
    assert "syslog" not in proc.stdout


def test_the_documented_example_validates():
    example = json.loads((Path(__file__).resolve().parents[2] / ".meta.example").read_text())["metarepo"]
    logging = environment_settings("staging", example["environments"]["staging"]).logging
    assert logging.driver == "syslog" and logging.option_map["syslog-format"] == "rfc5424"
    assert environment_settings("production", example["environments"]["production"]).logging is None
