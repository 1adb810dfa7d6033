"""`meta build` and `meta rollout` against a real Docker engine, registry and single-node swarm.

The suite starts them itself (see tests/images/engine.py). Images are FROM
scratch with a static busybox, so nothing is pulled from outside.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import git
from tests.images.conftest import UNHEALTHY_APP, commit_change, make_layered_fleet, meta_docker, services

pytestmark = pytest.mark.docker


def registry_tags(engine, name: str) -> list[str]:
    with urllib.request.urlopen(f"http://{engine.registry}/v2/{name}/tags/list", timeout=10) as response:
        return sorted(json.load(response)["tags"] or [])


def head(path: Path) -> str:
    return git("rev-parse", "HEAD", cwd=path)


def test_build_push_and_rollout_several_services(docker_workspace: Path, engine, docker_client):
    ws = docker_workspace
    proc = meta_docker(engine, "build", "--push", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    images = {i["project"]: i for i in json.loads(proc.stdout)["images"]}
    assert len(images) == 5 and all(i["status"] == "done" and i["pushed"] for i in images.values())
    orders = images["services/orders"]
    sha = head(ws / "services/orders")
    assert orders["tags"][:2] == [f"{engine.registry}/demo/orders:{sha}", f"{engine.registry}/demo/orders:latest"]
    assert orders["digest"].startswith("sha256:") and Path(orders["log"]).is_file()
    assert registry_tags(engine, "demo/orders") == sorted([sha, "latest"])

    proc = meta_docker(engine, "rollout", "staging", "--dry-run", "--exclude", "notifications", "--json", cwd=ws)
    preview = json.loads(proc.stdout)["services"][0]
    assert (preview["action"], preview["digest"], preview["not_known"]) == ("create", orders["digest"], {})
    assert json.loads(preview["detail"])["Image"] == f"{engine.registry}/demo/orders:{sha}@{orders['digest']}"

    proc = meta_docker(engine, "rollout", "staging", "--exclude", "notifications", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] and doc["order_from"] == "contracts"
    assert [(s["service"], s["state"]) for s in doc["services"]] == [
        ("orders", "deployed"), ("billing", "deployed"), ("shipping", "deployed"), ("gateway", "deployed")]
    live = services(docker_client)
    assert set(live) == {"orders", "billing", "shipping", "gateway"}
    assert live["orders"]["image"] == f"{engine.registry}/demo/orders:{sha}@{orders['digest']}"
    update = live["orders"]["update"]
    assert update["FailureAction"] == "rollback" and update["Parallelism"] == 1 and update["Order"] == "start-first"
    assert update["Monitor"] >= 3 * 10**9  # at least the HEALTHCHECK's window (2 retries x 1s + 1s timeout)
    assert live["orders"]["labels"]["io.metarepo.sha"] == sha
    tasks = docker_client.services.get("orders").tasks(filters={"desired-state": "running"})
    assert [t["Status"]["State"] for t in tasks] == ["running"]

    record = json.loads((ws / "environments/staging.json").read_text())["services"]
    assert set(record) == {"services/orders", "services/billing", "services/shipping", "services/gateway"}
    assert record["services/orders"]["sha"] == sha and record["services/orders"]["digest"] == orders["digest"]
    assert git("log", "-1", "--format=%s", cwd=ws).startswith("rollout staging: orders@")
    assert git("status", "--porcelain", "--", "environments", cwd=ws) == ""
    assert doc["commit"] == head(ws)

    proc = meta_docker(engine, "rollout", "staging", "--exclude", "notifications", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    assert {s["state"] for s in json.loads(proc.stdout)["services"]} == {"unchanged"}
    proc = meta_docker(engine, "rollout", "staging", "--dry-run", "--exclude", "notifications", "--json", cwd=ws)
    assert {s["action"] for s in json.loads(proc.stdout)["services"]} == {"unchanged"}


def test_a_release_whose_health_check_fails_is_rolled_back_with_its_batch(docker_workspace: Path, engine,
                                                                           docker_client):
    ws = docker_workspace
    batch = ("--include-only", "orders,billing")
    assert meta_docker(engine, "build", "--push", *batch, cwd=ws).returncode == 0
    proc = meta_docker(engine, "rollout", "staging", *batch, cwd=ws)
    assert proc.returncode == 0, proc.stderr
    before = services(docker_client)
    record = (ws / "environments/staging.json").read_bytes()
    meta_head = head(ws)

    commit_change(ws / "services/orders", "README.md", "# orders\n\nversion two\n", "orders: a fine change")
    commit_change(ws / "services/billing", "app.sh", UNHEALTHY_APP, "billing: a release that never gets healthy")
    assert meta_docker(engine, "build", "--push", *batch, cwd=ws).returncode == 0
    proc = meta_docker(engine, "rollout", "staging", *batch, "--json", cwd=ws)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    steps = {s["service"]: s for s in doc["services"]}
    assert steps["orders"]["state"] == "rolled back"  # it had gone live: the batch goes back together
    assert steps["billing"]["state"] == "failed" and "health check failed" in steps["billing"]["detail"]
    assert "Swarm rolled it back" in steps["billing"]["detail"]
    after = services(docker_client)
    assert after["orders"]["image"] == before["orders"]["image"]
    assert after["billing"]["image"] == before["billing"]["image"]
    assert (ws / "environments/staging.json").read_bytes() == record and head(ws) == meta_head

    proc = meta_docker(engine, "rollout", "staging", *batch, cwd=ws)  # people read the same story
    assert proc.returncode == 1
    assert "rolled back" in proc.stdout and "environments/staging.json is unchanged" in proc.stderr


def test_a_failed_build_skips_the_images_built_from_it(tmp_path: Path, engine):
    good = make_layered_fleet(tmp_path / "good", f"{engine.registry}/layers", engine.busybox)
    proc = meta_docker(engine, "build", "--json", cwd=good)  # no push: api and worker find base only locally
    assert proc.returncode == 0, proc.stderr
    assert [i["status"] for i in json.loads(proc.stdout)["images"]] == ["done"] * 4

    broken = make_layered_fleet(tmp_path / "broken", f"{engine.registry}/broken", engine.busybox, broken_base=True)
    proc = meta_docker(engine, "build", "--json", cwd=broken)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    states = {i["project"]: (i["status"], i["reason"]) for i in doc["images"]}
    assert states["images/base"][0] == "failed" and "missing-file" in states["images/base"][1]
    assert states["images/api"] == ("skipped", "images/base did not succeed")
    assert states["images/worker"] == ("skipped", "images/base did not succeed")
    assert states["images/solo"] == ("done", None)
    assert doc["skipped"] == [{"project": "images/docs", "reason": "no Dockerfile (Dockerfile)"}]
    log = next(i["log"] for i in doc["images"] if i["project"] == "images/base")
    assert "missing-file" in Path(log).read_text()

    proc = meta_docker(engine, "build", cwd=broken)  # and for people: the log's tail, the summary line
    assert proc.returncode == 1
    assert "✗ images/base: build failed" in proc.stdout and "log: " in proc.stdout
    assert "1 built, 1 failed (images/base), 2 skipped (images/api, images/worker)" in proc.stderr.splitlines()[-1]


def test_an_unreachable_registry_fails_each_push_clearly(docker_workspace: Path, engine):
    from tests.images.engine import free_port

    closed = f"127.0.0.1:{free_port()}/demo"
    proc = meta_docker(engine, "build", "--push", "--registry", closed, "--include-only", "orders,gateway",
                       cwd=docker_workspace)
    assert proc.returncode == 1
    assert proc.stdout.count("the registry is unreachable") == 2 and "Traceback" not in proc.stderr
    assert "2 failed" in proc.stderr.splitlines()[-1]


def test_a_rollout_of_an_image_never_pushed_changes_nothing(docker_workspace: Path, engine, docker_client):
    # the registry lives for the whole session: a new commit is one whose image nobody pushed
    commit_change(docker_workspace / "services/gateway", "README.md", "# gateway\n\nunpushed\n", "unpushed")
    proc = meta_docker(engine, "rollout", "staging", "--include-only", "gateway", cwd=docker_workspace)
    assert proc.returncode == 1
    assert "nothing was changed" in proc.stderr and "not found in the registry" in proc.stderr
    assert "meta build --push" in proc.stderr
    assert services(docker_client) == {}
    assert not (docker_workspace / "environments").exists()


def test_ctrl_c_during_a_rollout_puts_back_what_it_changed(docker_workspace: Path, engine, docker_client):
    ws = docker_workspace
    batch = ("--include-only", "orders,billing")
    assert meta_docker(engine, "build", "--push", *batch, cwd=ws).returncode == 0
    assert meta_docker(engine, "rollout", "staging", *batch, cwd=ws).returncode == 0
    before = services(docker_client)
    commit_change(ws / "services/orders", "README.md", "# orders\n\nthree\n", "orders: three")
    commit_change(ws / "services/billing", "README.md", "# billing\n\nthree\n", "billing: three")
    built = meta_docker(engine, "build", "--push", *batch, cwd=ws)
    assert built.returncode == 0, built.stderr
    line = next(line for line in built.stdout.splitlines() if "services/orders" in line)
    assert f" {engine.registry}/demo/orders  {head(ws / 'services/orders')}, latest  sha256:" in line  # as --json

    proc = subprocess.Popen([sys.executable, "-m", "metarepo", "rollout", "staging", *batch, "--json"], cwd=ws,
                            env={**__import__("os").environ, **engine.env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    orders = docker_client.services.get("orders")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        orders.reload()
        if orders.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] != before["orders"]["image"]:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the rollout never started updating orders")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    steps = {s["service"]: s for s in json.loads(out)["services"]}
    assert steps["orders"]["state"] in ("rolled back", "interrupted")
    assert "rolled back" in steps["orders"]["detail"] or steps["orders"]["state"] == "rolled back"
    assert steps["billing"]["state"] == "not started"
    deadline = time.monotonic() + 30
    while services(docker_client)["orders"]["image"] != before["orders"]["image"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert services(docker_client)["orders"]["image"] == before["orders"]["image"]
    assert services(docker_client)["billing"]["image"] == before["billing"]["image"]


def test_a_new_service_that_never_gets_healthy_is_removed_with_its_batch(docker_workspace: Path, engine,
                                                                         docker_client):
    ws = docker_workspace
    commit_change(ws / "services/gateway", "app.sh", UNHEALTHY_APP, "gateway: never healthy")
    batch = ("--include-only", "orders,gateway")
    assert meta_docker(engine, "build", "--push", *batch, cwd=ws).returncode == 0
    proc = meta_docker(engine, "rollout", "staging", *batch, "--json", cwd=ws)
    assert proc.returncode == 1, proc.stderr
    steps = {s["service"]: s for s in json.loads(proc.stdout)["services"]}
    assert steps["gateway"]["state"] == "failed"
    assert "health check failed" in steps["gateway"]["detail"] and "the new service was removed" in \
        steps["gateway"]["detail"]
    assert steps["orders"] == {**steps["orders"], "state": "rolled back",
                               "detail": "removed (it was created by this rollout)"}
    assert services(docker_client) == {}
    assert not (ws / "environments").exists()
