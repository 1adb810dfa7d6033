"""`meta ci generate/check/diff` on the example fleet, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import git
from metarepo.ci import PROVIDERS
from metarepo.ci.jenkins import check_jenkinsfile
from metarepo.ci.validate import check_yaml, schema_validator
from metarepo.templating.readback import parse_yaml

from .conftest import FILES, SERVICES, edit_manifest


def pipeline_files(root: Path, provider: str) -> list[Path]:
    return [root / "services" / s / FILES[provider] for s in SERVICES]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_generated_pipelines_for_the_example_fleet_pass_every_validator(meta, ws: Path, provider: str) -> None:
    proc = meta("ci", "generate", "--provider", provider, cwd=ws)
    assert proc.returncode == 0, proc.stderr
    for file in pipeline_files(ws, provider):
        text = file.read_text()
        if provider == "jenkins":
            check_jenkinsfile(text, "master")
            continue
        document = parse_yaml(text)
        assert list(schema_validator(provider).iter_errors(document)) == []
        check_yaml(provider, document, "master")
    data = json.loads((ws / ".meta").read_text())
    assert all(p["ci"] == provider for p in data["metarepo"]["projects"].values())


def test_generate_twice_changes_nothing_and_check_is_clean(meta, ws: Path) -> None:
    assert meta("ci", "generate", cwd=ws).returncode == 0
    files = pipeline_files(ws, "github")
    before = {f: (f.read_text(), f.stat().st_mtime_ns) for f in files}
    manifest_before = (ws / ".meta").read_text()
    again = meta("ci", "generate", cwd=ws)
    assert again.returncode == 0 and "5 unchanged" in again.stderr
    assert {f: (f.read_text(), f.stat().st_mtime_ns) for f in files} == before
    assert (ws / ".meta").read_text() == manifest_before
    check = meta("ci", "check", cwd=ws)
    assert check.returncode == 0 and "5 projects in step" in check.stderr


def test_a_hand_edit_is_caught_by_check_and_shown_by_diff(meta, ws: Path) -> None:
    assert meta("ci", "generate", cwd=ws).returncode == 0
    file = ws / "services/billing/.github/workflows/cd.yml"
    file.write_text(file.read_text().replace("make test", "make test || true"))
    check = meta("ci", "check", cwd=ws)
    assert check.returncode == 1
    assert "services/billing: .github/workflows/cd.yml differs" in check.stdout
    assert "orders" not in check.stdout
    diff = meta("ci", "diff", cwd=ws)
    assert diff.returncode == 1
    assert "--- a/services/billing/.github/workflows/cd.yml" in diff.stdout
    assert '-        run: "make test || true"' in diff.stdout and '+        run: "make test"' in diff.stdout
    as_json = json.loads(meta("ci", "check", "--json", cwd=ws).stdout)
    assert as_json["in_step"] is False
    assert [f["project"] for f in as_json["files"] if f["state"] == "drifted"] == ["services/billing"]
    assert meta("ci", "generate", cwd=ws).returncode == 0
    assert meta("ci", "check", cwd=ws).returncode == 0


def test_a_missing_file_and_a_template_change_are_drift(meta, ws: Path) -> None:
    assert meta("ci", "generate", cwd=ws).returncode == 0
    (ws / "services/orders/.github/workflows/cd.yml").unlink()
    edit_manifest(ws, lambda d: d["metarepo"]["defaults"].update(test="make check"))
    check = meta("ci", "check", cwd=ws)
    assert check.returncode == 1
    assert "services/orders: .github/workflows/cd.yml is missing" in check.stdout
    assert "5 of 5 projects drifted" in check.stderr


def test_switching_provider_removes_the_old_generated_file(meta, ws: Path) -> None:
    assert meta("ci", "generate", cwd=ws).returncode == 0
    proc = meta("ci", "generate", "--provider", "gitlab", "--include-only", "orders", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    orders = ws / "services/orders"
    assert (orders / ".gitlab-ci.yml").is_file() and not (orders / ".github").exists()
    assert (ws / "services/billing/.github/workflows/cd.yml").is_file()
    data = json.loads((ws / ".meta").read_text())
    assert data["metarepo"]["projects"]["services/orders"]["ci"] == "gitlab"
    assert "ci" not in data["metarepo"]["projects"]["services/billing"]


OVERRIDE_ONE_STAGE = """{% extends "builtin/github/cd.yml.j2" %}
{% block test %}
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Lint, then test
        run: {{ "make lint && " ~ test }}
{% endblock %}
"""


def write_override(root: Path, name: str, text: str) -> Path:
    file = root / "ci-templates" / name
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return file


def test_an_override_replaces_one_stage_and_inherits_the_rest(meta, ws: Path, tmp_path: Path) -> None:
    assert meta("ci", "generate", cwd=ws).returncode == 0
    builtin = parse_yaml((ws / "services/orders/.github/workflows/cd.yml").read_text())
    write_override(ws, "github/cd.yml.j2", OVERRIDE_ONE_STAGE)
    assert meta("ci", "check", cwd=ws).returncode == 1  # a template change is drift
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    text = (ws / "services/orders/.github/workflows/cd.yml").read_text()
    assert "from ci-templates/github/cd.yml.j2 (meta repo)" in text.splitlines()[0]
    overridden = parse_yaml(text)
    assert overridden["jobs"]["test"]["steps"][-1] == {"name": "Lint, then test", "run": "make lint && make test"}
    for job in ("contracts", "build-image", "deploy-staging", "deploy-production"):
        assert overridden["jobs"][job] == builtin["jobs"][job]
    assert overridden["env"] == builtin["env"]


def assert_nothing_written(root: Path) -> None:
    for service in SERVICES:
        for path in FILES.values():
            assert not (root / "services" / service / path).exists(), path


# case: (template, override text, the first error, the override's line that wrote it)
BAD_TEMPLATES = {
    "needs a job that does not exist": (
        "github/cd.yml.j2",
        '{% extends "builtin/github/cd.yml.j2" %}\n{% block contracts %}\n  contracts:\n    needs: [lint]\n'
        "    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n{% endblock %}\n",
        "job 'contracts' needs 'lint', which is not a job", 4),
    "a deploy job off the default branch": (
        "github/cd.yml.j2",
        '{% extends "builtin/github/cd.yml.j2" %}\n{% block deploy_staging %}\n  deploy-staging:\n'
        "    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n{% endblock %}\n",
        "deploy job 'deploy-staging' must run on the default branch only", 3),
    "a schema error": (
        "github/cd.yml.j2",
        '{% extends "builtin/github/cd.yml.j2" %}\n{% block contracts %}\n  contracts:\n    runs-on: ubuntu-latest\n'
        "    steps: 5\n{% endblock %}\n",
        "vendor.github-workflows schema: at jobs/contracts", 5),
    "broken YAML": (
        "github/cd.yml.j2",
        '{% extends "builtin/github/cd.yml.j2" %}\n{% block contracts %}\n  contracts: [\n{% endblock %}\n',
        "not valid YAML", 3),
    "a duplicate job": (
        "github/cd.yml.j2",
        '{% extends "builtin/github/cd.yml.j2" %}\n{% block contracts %}\n  test:\n    runs-on: ubuntu-latest\n'
        "    steps:\n      - run: echo\n{% endblock %}\n",
        "key 'test' appears twice", 3),
    "a circleci requires naming no job": (
        "circleci/config.yml.j2",
        '{% extends "builtin/circleci/config.yml.j2" %}\n{% block workflow %}\n      - test\n'
        "      - contracts:\n          requires: [lint]\n{% endblock %}\n",
        "requires 'lint', which is not in workflow 'cd'", 4),
    "a gitlab deploy job without a branch rule": (
        "gitlab/gitlab-ci.yml.j2",
        '{% extends "builtin/gitlab/gitlab-ci.yml.j2" %}\n{% block deploy_production %}\ndeploy-production:\n'
        "  stage: deploy\n  when: manual\n  script:\n    - echo\n{% endblock %}\n",
        "deploy job 'deploy-production' must run on the default branch only", 3),
    "a travis deploy stage that a pull request would run": (
        "travis/travis.yml.j2",
        '{% extends "builtin/travis/travis.yml.j2" %}\n{% block stages %}\nstages:\n  - name: test\n'
        '  - name: contracts\n  - name: image\n  - name: deploy staging\n    if: branch = "master"\n'
        '  - name: deploy production\n    if: type = api AND branch = "master"\n{% endblock %}\n',
        "deploy job 'deploy-staging' must run on the default branch only", 7),
    "a travis job in a stage that is not listed": (
        "travis/travis.yml.j2",
        '{% extends "builtin/travis/travis.yml.j2" %}\n{% block test %}\n    - stage: lint\n      name: lint\n'
        "      script: [make lint]\n{% endblock %}\n",
        "job 'lint' is in stage 'lint', which is not listed under stages", 3),
    "a Jenkins deploy stage on every branch": (
        "jenkins/Jenkinsfile.j2",
        '{% extends "builtin/jenkins/Jenkinsfile.j2" %}\n{% block deploy_staging %}\n'
        "    stage('Deploy to staging') {\n      steps {\n        sh 'x'\n      }\n    }\n{% endblock %}\n",
        "deploy stage 'Deploy to staging' must run on the default branch only", 3),
    "a Jenkins syntax error": (
        "jenkins/Jenkinsfile.j2",
        '{% extends "builtin/jenkins/Jenkinsfile.j2" %}\n{% block test %}\n    stage(\'Test\') {\n'
        "      steps {\n        sh 'x'\n    }\n{% endblock %}\n",
        "Groovy syntax error", 4),
    "a Jenkins stage with two bodies": (
        "jenkins/Jenkinsfile.j2",
        '{% extends "builtin/jenkins/Jenkinsfile.j2" %}\n{% block test %}\n    stage(\'Test\') {\n'
        "      steps { sh 'x' }\n      parallel { stage('a') { steps { sh 'y' } } }\n    }\n{% endblock %}\n",
        "stage 'Test' needs exactly one of steps, stages, parallel or matrix", 3),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_a_template_that_renders_something_invalid_writes_nothing(meta, ws: Path, case: str) -> None:
    name, text, expected, template_line = BAD_TEMPLATES[case]
    provider = name.split("/")[0]
    write_override(ws, name, text)
    proc = meta("ci", "generate", "--provider", provider, cwd=ws)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert f"meta: {ws / 'ci-templates' / name}:{template_line}: rendered for services/orders as " in line, line
    assert expected in line, line
    assert_nothing_written(ws)
    assert "ci" not in json.loads((ws / ".meta").read_text())["metarepo"]["projects"]["services/orders"]


def test_a_template_syntax_error_names_the_file_and_line(meta, ws: Path) -> None:
    write_override(ws, "github/cd.yml.j2", '{% extends "builtin/github/cd.yml.j2" %}\n\n{% block test %}\n'
                                                  "  test: {{ project | }}\n{% endblock %}\n")
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2
    assert f"{ws / 'ci-templates/github/cd.yml.j2'}:4: template syntax error" in proc.stderr
    assert_nothing_written(ws)


def test_an_override_block_the_builtin_does_not_have_is_refused(meta, ws: Path) -> None:
    """Jinja would ignore a misspelt block and keep the built-in stage, saying nothing."""
    write_override(ws, "github/cd.yml.j2", '{% extends "builtin/github/cd.yml.j2" %}\n\n{% block tset %}\n'
                                                  "  x: 1\n{% endblock %}\n")
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2
    assert (f"{ws / 'ci-templates/github/cd.yml.j2'}:3: block 'tset' is not in 'builtin/github/cd.yml.j2', "
            "so it would be ignored; its blocks are build, checkout, contracts,") in proc.stderr
    assert_nothing_written(ws)
    nested = ('{% extends "builtin/github/cd.yml.j2" %}\n{% block test %}\n  test:\n    runs-on: ubuntu-latest\n'
              "    steps:\n{% block lint %}\n      - run: make lint\n{% endblock %}\n{% endblock %}\n")
    write_override(ws, "github/cd.yml.j2", nested)  # a new block inside a redefined one is the override's own
    assert meta("ci", "generate", cwd=ws).returncode == 0


def test_an_override_extending_its_own_name_says_to_extend_builtin(meta, ws: Path) -> None:
    """`{% extends "github/cd.yml.j2" %}` in ci-templates/github/cd.yml.j2 finds itself, not the built-in."""
    write_override(ws, "github/cd.yml.j2", '{% extends "github/cd.yml.j2" %}\n{% block test %}\n  test: {}\n'
                                                  "{% endblock %}\n")
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f"meta: {ws / 'ci-templates/github/cd.yml.j2'}:1: this override extends itself "
                                   "('github/cd.yml.j2' is this file); extend the built-in one as "
                                   '"builtin/github/cd.yml.j2"')
    write_override(ws, "github/cd.yml.j2", '{% extends "github/base.j2" %}\n')
    write_override(ws, "github/base.j2", '{% extends "github/cd.yml.j2" %}\n')
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2 and "templates extend each other in a circle" in proc.stderr, proc.stderr
    assert_nothing_written(ws)


def test_an_override_that_is_not_utf8_is_named(meta, ws: Path) -> None:
    file = write_override(ws, "github/cd.yml.j2", "")
    file.write_bytes(b'{% extends "builtin/github/cd.yml.j2" %}\n{# caf\xe9 #}\n')  # Latin-1, not UTF-8
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"meta: {file}: a template is not UTF-8 text")
    assert_nothing_written(ws)


def test_extending_a_template_that_does_not_exist_names_the_line(meta, ws: Path) -> None:
    write_override(ws, "gitlab/gitlab-ci.yml.j2", '{# ours #}\n{% extends "builtin/gitlab/gitlab.yml.j2" %}\n')
    proc = meta("ci", "generate", "--provider", "gitlab", cwd=ws)
    assert proc.returncode == 2
    assert (f"{ws / 'ci-templates/gitlab/gitlab-ci.yml.j2'}:2: template 'builtin/gitlab/gitlab.yml.j2' not found"
            in proc.stderr)
    assert_nothing_written(ws)


def test_an_undefined_name_in_a_template_names_the_line(meta, ws: Path) -> None:
    write_override(ws, "github/cd.yml.j2", '{% extends "builtin/github/cd.yml.j2" %}\n{% block test %}\n'
                                                  "  test: {{ no_such_value }}\n{% endblock %}\n")
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2
    assert f"{ws / 'ci-templates/github/cd.yml.j2'}:3:" in proc.stderr and "no_such_value" in proc.stderr


def test_an_unknown_provider_is_refused(meta, ws: Path) -> None:
    proc = meta("ci", "generate", "--provider", "drone", cwd=ws)
    assert proc.returncode == 2 and "drone" in proc.stderr
    edit_manifest(ws, lambda d: d["metarepo"]["projects"]["services/billing"].update(ci="drone"))
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2
    assert "metarepo.projects.services/billing.ci: unknown CI provider 'drone'" in proc.stderr
    assert_nothing_written(ws)


@pytest.mark.parametrize("key,value,expected", [
    ("vars", {"bad-name": "x"}, "metarepo.projects.services/billing.vars.bad-name: 'bad-name' is not a valid variable name"),
    ("vars", {"ok": {"nested": 1}}, "a var's value must be a string or a number"),
    ("branch", "main'; evil", "is not a branch name a pipeline can match"),
    ("image", "Orders:latest\"", "is not a valid image name"),
    ("test", "", "no test command"),
    ("registry", "host with space", "is not a registry"),
    ("ci_install", "--index-url=https://evil.example/simple", "'ci_install' must be what pip installs"),
    ("ci_install", "metarepo\n- run: evil", "'ci_install' must be what pip installs"),
    ("ci_image", "Not An Image", "is not an image the runner can run"),
    ("meta_repo", "ext::sh -c evil", "the meta repo URL uses the ext:: transport"),
    ("meta_repo", "https://ci:s3cret@git.acme.io/meta.git", "the meta repo URL carries a password or token"),
    ("meta_branch", "main..x", "is not a branch name"),
])
def test_a_manifest_value_that_would_break_a_pipeline_is_refused(meta, ws: Path, key, value, expected) -> None:
    edit_manifest(ws, lambda d: d["metarepo"]["projects"]["services/billing"].update({key: value}))
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert_nothing_written(ws)


def test_an_image_on_a_registry_with_a_port_is_generated_as_meta_build_accepts_it(meta, ws: Path) -> None:
    image = "registry.example.com:5443/team/billing"
    edit_manifest(ws, lambda d: d["metarepo"]["projects"]["services/billing"].update(image=image))
    proc = meta("ci", "generate", "--include-only", "billing", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    text = next((ws / "services/billing" / path).read_text() for path in FILES.values()
                if (ws / "services/billing" / path).exists())
    assert image in text and "registry.example.com:5443" in text
    proc = meta("build", "--include-only", "billing", "--dry-run", "--json", cwd=ws)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["images"][0]["image"] == image


def test_a_project_name_with_colon_and_quotes_is_escaped(meta, ws: Path) -> None:
    weird = "services/we:ird'\"name"
    remote = json.loads((ws / ".meta").read_text())["projects"]["services/orders"]
    git("clone", "--quiet", remote, str(ws / weird), cwd=ws)

    def add(d):
        d["projects"][weird] = remote
        d["metarepo"]["projects"][weird] = {"image": "weird"}

    edit_manifest(ws, add)
    for provider in PROVIDERS:
        proc = meta("ci", "generate", "--provider", provider, "--include-only", weird, cwd=ws)
        assert proc.returncode == 0, proc.stderr
        text = (ws / weird / FILES[provider]).read_text()
        if provider == "jenkins":
            assert "META_PROJECT = 'services/we:ird\\'\"name'" in text
        elif provider == "travis":  # Travis exports each env entry in sh as it is: it must give the name back
            entry = next(e for e in parse_yaml(text)["env"]["global"] if e.startswith("META_PROJECT="))
            shell = subprocess.run(["sh", "-c", f'export {entry}; printf %s "$META_PROJECT"'], capture_output=True,
                                   text=True, check=True)
            assert shell.stdout == weird
        else:
            document = parse_yaml(text)
            found = json.dumps(document)
            assert json.dumps(weird)[1:-1] in found


def test_no_default_branch_is_a_clear_error(meta, ws: Path) -> None:
    def drop(d):
        d["metarepo"]["defaults"].pop("branch")

    edit_manifest(ws, drop)
    git("remote", "set-head", "origin", "-d", cwd=ws / "services/orders")
    proc = meta("ci", "generate", cwd=ws)
    assert proc.returncode == 2
    assert "metarepo.projects.services/orders.branch: no default branch known" in proc.stderr
    assert_nothing_written(ws)
    git("remote", "set-head", "origin", "master", cwd=ws / "services/orders")
    assert meta("ci", "generate", cwd=ws).returncode == 0


@pytest.mark.parametrize("command", ["ci", "batch", "import"])
def test_help_does_not_import_jinja_or_pygithub(command: str) -> None:
    import subprocess
    import sys

    code = (f"import sys, runpy; sys.argv=['meta', {command!r}, '--help']\n"
            "try:\n    runpy.run_module('metarepo', run_name='__main__')\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('jinja2', 'github', 'tree_sitter', 'check_jsonschema') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_files_that_passed_are_not_validated_again_until_they_or_the_checks_change(ws: Path, monkeypatch) -> None:
    """Validation is most of what `meta ci check` costs; a verdict is kept by the file's text and
    the checker's version (in .metarepo/), so an unchanged fleet is only rendered and compared."""
    from metarepo.ci import validate
    from metarepo.ci.generate import plan_pipelines
    from metarepo.manifest import load_manifest

    checked: list[str] = []
    real = validate.check_output
    monkeypatch.setattr(validate, "check_output", lambda output, text, values: (
        checked.append(values.project), real(output, text, values))[1])
    manifest = load_manifest(ws)
    plan_pipelines(manifest, manifest.projects)
    assert sorted(checked) == sorted(f"services/{s}" for s in SERVICES)
    assert (ws / ".metarepo" / validate.VALIDATED_FILE).is_file()
    checked.clear()
    plan_pipelines(load_manifest(ws), manifest.projects)
    assert checked == []
    # A project whose file text changes is checked again (and only that one).
    edit_manifest(ws, lambda d: d["metarepo"]["projects"]["services/orders"].update({"test": "make check"}))
    manifest = load_manifest(ws)
    plan_pipelines(manifest, manifest.projects)
    assert checked == ["services/orders"]
    # New checks (another metarepo, schema package or parser version): every file is checked again.
    checked.clear()
    monkeypatch.setattr(validate, "_checker_version", lambda: "another checker")
    plan_pipelines(manifest, manifest.projects)
    assert len(checked) == len(SERVICES)
