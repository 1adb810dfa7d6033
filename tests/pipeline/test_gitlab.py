"""The GitLab pipeline `meta ci generate` writes, run for real with gitlab-ci-local on a demo service repository.

gitlab-ci-local runs every job of the generated `.gitlab-ci.yml` with its
shell executor (`--force-shell-executor`: the jobs' images are not pulled;
`--shell-isolation`: each job gets its own copy of the checkout, as a GitLab
runner does), against the suite's own Docker engine, registry and swarm.
Nothing is faked: the jobs install meta from a wheel of this checkout into a
virtualenv (`ci_install`; no `meta` is on the jobs' PATH; pip has no index, only the
wheels scripts/pipeline-tools.sh collected), clone the meta
repo and the fleet from their bare remotes, gate on `can-i-deploy`, build and
push with the docker CLI, roll out with `meta rollout` and push the record
back to the meta repo.

One thing differs from a GitLab shell runner, and is said in the file the
run starts from (RUNNER_FILE, which includes the generated one unchanged):
GitLab's shell executor ignores a job's `services:` (the build job's
docker:dind), gitlab-ci-local starts them as containers even with
--force-shell-executor, so that file empties the list.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import git, run_meta
from tests.images.conftest import services
from tests.pipeline.conftest import runner_pip_env

pytestmark = pytest.mark.docker

_RESULT = re.compile(r"^\s*(PASS|FAIL|WARN)\s+(\S+)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class PipelineRun:
    returncode: int
    output: str
    jobs: dict[str, str]  # job name to PASS / FAIL / WARN, as gitlab-ci-local sums the pipeline up

    def job_log(self, name: str) -> str:
        return "\n".join(line for line in self.output.splitlines() if line.startswith(f"{name} "))


def runner_env(tools: Path) -> dict[str, str]:
    """The environment gitlab-ci-local and its jobs run in: this machine's, without the suite's virtualenv
    (or any other `meta`) on PATH, so only the pipeline's own install step can provide meta."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(runner_pip_env())
    suite = Path(sys.prefix).resolve()
    kept = [d for d in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
            if d and suite not in Path(d).resolve().parents and Path(d).resolve() != suite
            and not (Path(d) / "meta").exists()]
    env["PATH"] = os.pathsep.join([str(tools), *kept])
    env["FORCE_COLOR"] = "0"
    assert shutil.which("meta", path=env["PATH"]) is None
    return env


RUNNER_FILE = """\
# A GitLab shell runner: the generated pipeline as it is, less the service containers a shell executor ignores.
include:
  - local: .gitlab-ci.yml
build-image:
  services: []
"""


def run_pipeline(checkout: Path, tools: Path, engine, home: Path, timeout: float = 900) -> PipelineRun:
    home.mkdir(exist_ok=True)
    (checkout / ".shell-runner.yml").write_text(RUNNER_FILE)  # untracked: the jobs' copies do not have it
    argv = [str(tools / "gitlab-ci-local"), "--file", ".shell-runner.yml",
            "--shell-isolation", "--force-shell-executor", "--home", str(home / "gcl"),
            "--variable", f"DOCKER_HOST={engine.host}", "--variable", f"DOCKER_CONFIG={home / 'docker'}",
            "--variable", "REGISTRY_USER=ci", "--variable", "REGISTRY_PASSWORD=not-a-secret"]
    proc = subprocess.run(argv, cwd=checkout, env=runner_env(tools), capture_output=True, text=True,
                          errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    output = _ANSI.sub("", proc.stdout + proc.stderr)
    jobs = {m.group(2): m.group(1) for m in map(_RESULT.match, output.splitlines()) if m}
    return PipelineRun(proc.returncode, output, jobs)


def registry_tags(engine, name: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://{engine.registry}/v2/{name}/tags/list", timeout=10) as response:
            return sorted(json.load(response)["tags"] or [])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # no such repository: nothing was ever pushed to it
            return []
        raise


def remote_of(ws: Path, project: str) -> str:
    return json.loads((ws / ".meta").read_text())["projects"][project]


def meta_remote_file(ws: Path, path: str) -> dict | None:
    """``path`` as the meta repo's remote has it on master (what the next pipeline's clone reads), or None."""
    bare = git("remote", "get-url", "origin", cwd=ws).removeprefix("file://")
    proc = subprocess.run(["git", "--git-dir", bare, "show", f"master:{path}"], capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def publish_gitlab_pipelines(ws: Path, wheel: Path, names: list[str]) -> None:
    """What a platform team does once: pipelines on GitLab, meta installed from `wheel` (with the contracts
    extra: the example fleet has Avro payloads), all pushed."""
    data = json.loads((ws / ".meta").read_text())
    data["metarepo"]["defaults"].update(ci="gitlab", ci_install=f"metarepo[contracts] @ {wheel.as_uri()}")
    (ws / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    git("commit", "-qam", "pipelines on GitLab", cwd=ws)
    git("push", "-q", "origin", "master", cwd=ws)
    proc = run_meta("ci", "generate", "--include-only", ",".join(names), cwd=ws)
    assert proc.returncode == 0, proc.stderr
    for name in names:
        clone = ws / "services" / name
        git("add", ".gitlab-ci.yml", cwd=clone)
        git("commit", "-qm", "the pipeline meta ci generate writes", cwd=clone)
        git("push", "-q", "origin", "master", cwd=clone)


def ci_checkout(ws: Path, name: str, dest: Path, *, branch: str | None = None) -> tuple[Path, str]:
    """A runner's checkout of service ``name`` with one new commit pushed (on ``branch``, else master)."""
    git("clone", "-q", remote_of(ws, f"services/{name}"), str(dest), cwd=ws)
    if branch:
        git("checkout", "-q", "-b", branch, cwd=dest)
    (dest / "README.md").write_text((dest / "README.md").read_text() + "\nA change that goes through CI.\n")
    git("commit", "-qam", f"{name}: a change", cwd=dest)
    git("push", "-q", "origin", f"HEAD:{branch or 'master'}", cwd=dest)
    return dest, git("rev-parse", "HEAD", cwd=dest)


@pytest.mark.timeout(1200)
def test_a_default_branch_commit_ships_to_staging_and_one_that_breaks_a_consumer_stops_at_the_gate(
        docker_workspace: Path, engine, docker_client, gitlab_ci_local: Path, metarepo_wheel: Path,
        tmp_path: Path) -> None:
    ws = docker_workspace
    publish_gitlab_pipelines(ws, metarepo_wheel, ["notifications", "orders"])
    assert meta_remote_file(ws, "environments/staging.json") is None  # a brand-new fleet: nothing deployed

    # notifications, first of the fleet: test, gate (nothing deployed to break), build, push, rollout, record
    checkout, sha = ci_checkout(ws, "notifications", tmp_path / "ci-notifications")
    run = run_pipeline(checkout, gitlab_ci_local, engine, tmp_path / "runner")
    assert run.returncode == 0, run.output[-6000:]
    assert run.jobs == {"test": "PASS", "contracts": "PASS", "build-image": "PASS", "deploy-staging": "PASS"}, \
        run.output[-6000:]  # deploy-production waits for a person (when: manual)
    gate = run.job_log("contracts")
    assert "yes: services/notifications to staging" in gate and "not deployed in staging yet" in gate
    image = f"{engine.registry}/demo/notifications"
    assert sha in registry_tags(engine, "demo/notifications")
    record = meta_remote_file(ws, "environments/staging.json")["services"]["services/notifications"]
    assert record["sha"] == sha and record["image"] == f"{image}:{sha}" and record["digest"].startswith("sha256:")
    running = {s["image"].split("@")[0] for s in services(docker_client).values()}
    assert f"{image}:{sha}" in running

    # orders' order.created breaks notifications, which now runs in staging: stopped at the gate, nothing built
    checkout, sha = ci_checkout(ws, "orders", tmp_path / "ci-orders")
    run = run_pipeline(checkout, gitlab_ci_local, engine, tmp_path / "runner")
    assert run.returncode != 0
    assert run.jobs == {"test": "PASS", "contracts": "FAIL"}, run.output[-6000:]
    gate = run.job_log("contracts")
    assert "no: services/orders to staging" in gate and "services/notifications" in gate
    assert sha not in registry_tags(engine, "demo/orders")
    assert set(meta_remote_file(ws, "environments/staging.json")["services"]) == {"services/notifications"}


@pytest.mark.timeout(900)
def test_a_branch_commit_runs_the_tests_and_the_gate_only(docker_workspace: Path, engine, gitlab_ci_local: Path,
                                                           metarepo_wheel: Path, tmp_path: Path) -> None:
    ws = docker_workspace
    publish_gitlab_pipelines(ws, metarepo_wheel, ["notifications"])
    checkout, sha = ci_checkout(ws, "notifications", tmp_path / "ci-notifications", branch="faster-mail")
    run = run_pipeline(checkout, gitlab_ci_local, engine, tmp_path / "runner")
    assert run.returncode == 0, run.output[-6000:]
    assert run.jobs == {"test": "PASS", "contracts": "PASS"}, run.output[-6000:]
    assert "tests passed" in run.job_log("test")
    assert sha not in registry_tags(engine, "demo/notifications")
    assert meta_remote_file(ws, "environments/staging.json") is None
