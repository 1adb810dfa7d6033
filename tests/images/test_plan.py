"""What to build and what to roll out, decided from git and the manifest alone (no engine needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from metarepo.errors import ManifestError
from metarepo.images.build import plan_builds
from metarepo.images.release import environment_settings
from metarepo.manifest import load_manifest
from tests.conftest import git
from tests.images.conftest import make_layered_fleet

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/metarepo-test.sock"}


@pytest.mark.parametrize("raw,key", [
    ({"target": "nomad"}, "metarepo.environments.e.target"),
    ({"replicas": -1}, "metarepo.environments.e.replicas"),
    ({"replicas": "2"}, "metarepo.environments.e.replicas"),
    ({"replicas": True}, "metarepo.environments.e.replicas"),
    ({"timeout": 0}, "metarepo.environments.e.timeout"),
    ({"update": []}, "metarepo.environments.e.update"),
    ({"update": {"order": "random"}}, "metarepo.environments.e.update.order"),
    ({"update": {"parallelism": 0}}, "metarepo.environments.e.update.parallelism"),
    ({"update": {"max_failure_ratio": 2}}, "metarepo.environments.e.update.max_failure_ratio"),
    ({"docker_host": ""}, "metarepo.environments.e.docker_host"),
])
def test_environment_settings_name_the_bad_key(raw, key):
    with pytest.raises(ManifestError) as info:
        environment_settings("e", raw)
    assert info.value.key == key


def test_environment_settings_defaults_are_explicit_and_safe():
    settings = environment_settings("e", {})
    assert settings.target == "swarm" and settings.replicas == 1 and settings.timeout == 300
    assert (settings.update.parallelism, settings.update.order, settings.update.max_failure_ratio) == (
        1, "start-first", 0)


def test_build_plan_of_the_example_fleet(workspace: Path):
    manifest = load_manifest(workspace)
    orders = workspace / "services/orders"
    git("tag", "v1.4.2", cwd=orders)
    (workspace / "services/billing/notes.txt").write_text("work in progress\n")
    plan = plan_builds(manifest, manifest.projects, registry="127.0.0.1:5999/demo", extra_tags=["rc"])
    assert plan.order() == [p.name for p in manifest.projects] and not plan.skipped and not plan.failed
    by_name = {s.project: s for s in plan.specs}
    sha = git("rev-parse", "HEAD", cwd=orders)
    assert by_name["services/orders"].references == (
        f"127.0.0.1:5999/demo/orders:{sha}", "127.0.0.1:5999/demo/orders:1.4.2", "127.0.0.1:5999/demo/orders:latest",
        "127.0.0.1:5999/demo/orders:rc")
    assert by_name["services/orders"].labels["org.opencontainers.image.revision"] == sha
    billing = by_name["services/billing"]
    assert billing.tags[0] == f"{billing.revision.sha}-dirty"  # never claims a commit it does not hold
    assert all(not deps for deps in plan.needs.values())


def test_fleet_images_built_from_others_come_after_them(tmp_path: Path):
    root = make_layered_fleet(tmp_path, "127.0.0.1:5999/t", None)
    manifest = load_manifest(root)
    plan = plan_builds(manifest, manifest.projects)
    assert plan.needs == {"images/base": (), "images/api": ("images/base",), "images/worker": ("images/base",),
                          "images/solo": ()}
    assert plan.skipped == {"images/docs": "no Dockerfile (Dockerfile)"}


def test_since_builds_what_changed_and_what_is_built_from_it(tmp_path: Path):
    root = make_layered_fleet(tmp_path, "127.0.0.1:5999/t", None)
    for name in ("base", "api", "worker", "solo"):
        git("tag", "released", cwd=root / "images" / name)
    manifest = load_manifest(root)
    assert plan_builds(manifest, manifest.projects, since="released").specs == ()
    (root / "images/base/extra").write_text("x\n")
    git("add", "extra", cwd=root / "images/base")
    git("commit", "-qm", "base changes", cwd=root / "images/base")
    plan = plan_builds(manifest, manifest.projects, since="released")
    assert plan.order() == ["images/base", "images/api", "images/worker"]
    assert plan.skipped["images/solo"] == "unchanged since released"


def test_bad_build_settings_are_bad_input(workspace: Path, meta):
    data = json.loads((workspace / ".meta").read_text())
    data["metarepo"]["projects"]["services/orders"]["image"] = "Orders:latest"
    (workspace / ".meta").write_text(json.dumps(data))
    before = (workspace / ".meta").read_bytes()
    proc = meta("build", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("meta: metarepo.projects.services/orders.image: 'Orders:latest' is not a valid "
                                   "image name (lower-case letters, digits, '.', '_', '-' and '/', after an "
                                   "optional registry host)")
    assert (workspace / ".meta").read_bytes() == before
    data["metarepo"]["projects"]["services/orders"] = {"context": "../elsewhere"}
    (workspace / ".meta").write_text(json.dumps(data))
    proc = meta("build", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 2 and "context: '../elsewhere' is outside the project" in proc.stderr
    proc = meta("build", "--image-tag", "-bad", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 2 and "--image-tag: '-bad' is not a valid image tag" in proc.stderr


def test_engine_not_running_is_one_line(workspace: Path, meta):
    proc = meta("build", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "meta: cannot reach the Docker engine at unix:///nonexistent/metarepo-test.sock: no such file or directory "
        "(is the Docker engine running? is DOCKER_HOST right?)"]
    proc = meta("rollout", "staging", "--exclude", "notifications", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 1 and "cannot reach the Docker engine" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_project_with_no_dockerfile_is_skipped_with_the_reason(tmp_path: Path, meta):
    root = make_layered_fleet(tmp_path, "127.0.0.1:5999/t", None)
    proc = meta("build", "--include-only", "docs", cwd=root, env=NO_ENGINE)
    assert proc.returncode == 0
    assert "- images/docs: skipped, no Dockerfile (Dockerfile)" in proc.stderr and "nothing to build" in proc.stderr


def test_unknown_environment_is_bad_input(workspace: Path, meta):
    proc = meta("rollout", "qa", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("meta: unknown environment 'qa' (known: production, staging) "
                                   "(add it under metarepo.environments in .meta)")


def test_rollout_refuses_a_change_with_no_safe_order_before_touching_anything(workspace: Path, meta):
    proc = meta("rollout", "staging", "--dry-run", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 1
    assert "no safe order" in proc.stderr and "order.created: services/orders" in proc.stderr
    assert not (workspace / "environments").exists()


def test_dry_run_without_an_engine_shows_the_specs_and_what_it_could_not_find_out(workspace: Path, meta):
    proc = meta("rollout", "staging", "--dry-run", "--exclude", "notifications", "--json", cwd=workspace,
                env=NO_ENGINE)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["order_from"] == "contracts" and doc["target"] == "swarm"
    assert [s["service"] for s in doc["services"]] == ["orders", "billing", "shipping", "gateway"]
    sha = git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    orders = doc["services"][0]
    assert orders["image"] == f"127.0.0.1:5000/demo/orders:{sha}" and orders["digest"] is None
    assert {s["action"] for s in doc["services"]} == {"unknown"}
    unreachable = ("cannot reach the Docker engine at unix:///nonexistent/metarepo-test.sock: no such file or "
                   "directory")
    assert orders["not_known"] == {"exists": unreachable, "digest": unreachable}
    spec = json.loads(orders["detail"])  # the service spec it would apply, the image by tag
    assert (spec["Name"], spec["Image"], spec["Replicas"]) == ("orders", orders["image"], 1)
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert not (workspace / "environments").exists()

    proc = meta("rollout", "staging", "--dry-run", "--exclude", "notifications", cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 0, proc.stderr
    assert "create or update?" in proc.stdout.splitlines()[2]
    assert proc.stderr.splitlines() == [
        f"note: not found out whether each service exists, so whether it would be created or updated: {unreachable}",
        f"note: not found out the image digests, so each spec names its image by tag: {unreachable}"]
    assert f'--- orders ---\n{{\n  "Name": "orders",\n  "Image": "{orders["image"]}",' in proc.stdout


def test_a_kubernetes_dry_run_says_the_same_of_what_it_could_not_find_out(workspace: Path, meta, tmp_path: Path):
    no_kubectl = tmp_path / "bin"  # git, and no kubectl
    no_kubectl.mkdir()
    (no_kubectl / "git").symlink_to(shutil.which("git"))
    proc = meta("rollout", "production", "--dry-run", "--include-only", "orders", cwd=workspace,
                env={**NO_ENGINE, "PATH": str(no_kubectl)})
    assert proc.returncode == 0, proc.stderr
    assert "create or update?" in proc.stdout.splitlines()[2]
    assert proc.stderr.splitlines() == [
        "note: not found out whether each service exists, so whether it would be created or updated: kubectl not "
        "found",
        "note: not found out the image digests, so each spec names its image by tag: cannot reach the Docker engine "
        "at unix:///nonexistent/metarepo-test.sock: no such file or directory"]
    sha = git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    assert "--- orders ---\n# Rendered by `meta rollout production`" in proc.stdout
    assert f"image: \"127.0.0.1:5000/demo/orders:{sha}\"" in proc.stdout  # by tag


def test_services_without_contracts_keep_manifest_order(tmp_path: Path, meta):
    root = make_layered_fleet(tmp_path, "127.0.0.1:5999/t", None)
    proc = meta("rollout", "staging", "--dry-run", "--json", cwd=root, env=NO_ENGINE)
    doc = json.loads(proc.stdout)
    assert doc["order_from"] == "manifest"
    assert [s["project"] for s in doc["services"]] == ["images/base", "images/api", "images/worker", "images/solo"]
    assert doc["skipped"] == [{"project": "images/docs", "reason": "no Dockerfile: nothing to deploy"}]


def test_build_dry_run_shows_the_order_and_builds_nothing(tmp_path: Path, meta):
    root = make_layered_fleet(tmp_path, "127.0.0.1:5999/t", None)
    proc = meta("build", "--dry-run", "--json", cwd=root, env=NO_ENGINE)  # no engine is asked
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(i["project"], i["after"]) for i in doc["images"]] == [
        ("images/base", []), ("images/api", ["images/base"]), ("images/worker", ["images/base"]),
        ("images/solo", [])]
    sha = git("rev-parse", "HEAD", cwd=root / "images/api")
    assert doc["images"][1]["tags"] == [f"127.0.0.1:5999/t/api:{sha}", "127.0.0.1:5999/t/api:latest"]
    proc = meta("build", "--dry-run", cwd=root, env=NO_ENGINE)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["PROJECT", "IMAGE", "TAGS", "AFTER"]  # the registry and every tag, as --json has
    assert lines[2].split() == ["images/api", "127.0.0.1:5999/t/api", f"{sha},", "latest", "images/base"]
    assert not (root / ".metarepo" / "builds").exists()


def test_build_tag_selects_projects_as_everywhere_and_image_tag_tags_images(workspace: Path, meta):
    proc = meta("build", "--dry-run", "--json", "--tag", "edge", "--image-tag", "rc1", "--image-tag", "rc1",
                cwd=workspace, env=NO_ENGINE)
    assert proc.returncode == 0, proc.stderr
    images = json.loads(proc.stdout)["images"]
    assert [i["project"] for i in images] == ["services/notifications", "services/gateway"]
    sha = git("rev-parse", "HEAD", cwd=workspace / "services/gateway")
    assert images[1]["tags"] == [f"127.0.0.1:5000/demo/gateway:{t}" for t in (sha, "latest", "rc1")]
    proc = meta("build", "--dry-run", "--tag", "rc1", cwd=workspace, env=NO_ENGINE)  # the old meaning: a mistake
    assert proc.returncode == 2
    assert proc.stderr.strip() == "meta: --tag rc1 selects no project (tags in .meta: backend, core, edge)"
    proc = meta("build", "--help", cwd=workspace)
    assert "--image-tag T" in proc.stdout and "--project-tag" not in proc.stdout
