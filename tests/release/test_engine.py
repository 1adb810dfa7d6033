"""Release trains against the real Docker engine, registry and swarm the suite starts (tests/engine_fixtures.py).

Images are built once by ``apply``, and the digests it records are what
``promote`` and ``rollback`` deploy: nothing is rebuilt, and an image gone
from the registry refuses a promotion before anything moves.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import git
from tests.images.conftest import UNHEALTHY_APP, commit_change, meta_docker, services, set_registry

pytestmark = pytest.mark.docker


@pytest.fixture
def release_workspace(history_workspace: Path, engine, docker_client) -> Path:
    set_registry(history_workspace, engine.registry, namespace="trains")
    yield history_workspace
    for service in docker_client.services.list(filters={"label": "io.metarepo.project"}):
        service.remove()


def ship(root: Path, project: str, path: str, text: str, message: str) -> None:
    commit_change(root / project, path, text, message)
    git("push", "-q", "origin", "master", cwd=root / project)


def train(root: Path, name: str) -> dict:
    return json.loads((root / "releases" / f"{name}.json").read_text())


def test_built_once_promoted_by_digest_and_rolled_back(release_workspace: Path, engine, docker_client) -> None:
    ws = release_workspace
    proc = meta_docker(engine, "release", "apply", "--no-rollout", "--name", "one", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    one = train(ws, "one")
    assert one["state"] == "released" and one["environment"] is None
    orders = one["projects"]["services/orders"]
    assert orders["image"] == f"{engine.registry}/trains/orders:{orders['sha']}" and orders["digest"].startswith("sha256:")
    assert git("rev-parse", "v1.5.0^{commit}", cwd=ws / "services/orders") == orders["sha"]
    assert services(docker_client) == {}  # --no-rollout

    proc = meta_docker(engine, "release", "promote", "one", "--to", "staging", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["service"] for s in doc["services"]] == ["orders", "billing", "shipping", "gateway"]
    live = services(docker_client)
    for project, entry in one["projects"].items():
        assert live[project.rsplit("/", 1)[1]]["image"] == f"{entry['image']}@{entry['digest']}"
    status = json.loads(meta_docker(engine, "release", "status", "--json", cwd=ws).stdout)
    assert status["trains"][0]["running_in"] == {"staging": "all"}

    ship(ws, "services/orders", "README.md", "# orders\n\nversion two\n", "fix: a clearer readme")
    proc = meta_docker(engine, "release", "apply", "--to", "staging", "--include-only", "orders", "--name", "two",
                       cwd=ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    two = train(ws, "two")["projects"]["services/orders"]
    assert two["version"] == "1.5.1" and two["digest"] != orders["digest"]
    assert services(docker_client)["orders"]["image"].endswith(two["digest"])

    proc = meta_docker(engine, "release", "rollback", "two", "--env", "staging", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["previous"] == {"services/orders": "one"}
    assert services(docker_client)["orders"]["image"] == f"{orders['image']}@{orders['digest']}"
    recorded = json.loads((ws / "environments/staging.json").read_text())["services"]["services/orders"]
    assert recorded["digest"] == orders["digest"]

    # The registry loses train two's image: promoting it is refused before anything moves.
    request = urllib.request.Request(f"http://{engine.registry}/v2/trains/orders/manifests/{two['digest']}",
                                     method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()
    before, record = services(docker_client), (ws / "environments/staging.json").read_bytes()
    proc = meta_docker(engine, "release", "promote", "two", "--to", "staging", cwd=ws)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nothing was changed" in proc.stderr and f"trains/orders@{two['digest']}: no longer in the registry" in \
        proc.stderr
    assert services(docker_client) == before and (ws / "environments/staging.json").read_bytes() == record


def test_a_rollout_failing_after_the_tags_are_pushed_is_a_failed_train(release_workspace: Path, engine,
                                                                      docker_client) -> None:
    ws = release_workspace
    ship(ws, "services/billing", "app.sh", UNHEALTHY_APP, "fix: a billing release that never gets healthy")
    batch = ("--include-only", "orders,billing")
    proc = meta_docker(engine, "release", "apply", "--to", "staging", *batch, "--name", "bad", "--json", cwd=ws)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    steps = {s["service"]: s["state"] for s in doc["rollout"]["services"]}
    assert steps == {"orders": "rolled back", "billing": "failed"}
    record = train(ws, "bad")
    assert record["state"] == "failed" and "rollout to staging failed and was rolled back" in record["failure"]
    assert services(docker_client) == {}  # both were new in staging: rolled back means gone
    assert git("ls-remote", "--tags", "origin", "v0.10.0", cwd=ws / "services/billing")  # the tags stay pushed
    proc = meta_docker(engine, "release", "promote", "bad", "--to", "staging", cwd=ws)
    assert proc.returncode == 2 and "train 'bad' failed" in proc.stderr
