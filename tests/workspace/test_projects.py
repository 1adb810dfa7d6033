"""meta init / project add|remove|list|import, and .gitignore kept in step as npm meta does."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import git, read_manifest


def test_init_then_add_list_remove(tmp_path, meta):
    assert meta("init", cwd=tmp_path).returncode == 0
    assert read_manifest(tmp_path) == {"projects": {}}
    assert meta("init", cwd=tmp_path).returncode == 2  # never overwrites

    assert meta("project", "add", "services/orders", "https://u:s3cret@example.invalid/orders.git",
                cwd=tmp_path).returncode == 0
    assert meta("project", "add", "billing", "file:///srv/billing.git", cwd=tmp_path).returncode == 0
    assert read_manifest(tmp_path)["projects"] == {
        "services/orders": "https://u:s3cret@example.invalid/orders.git", "billing": "file:///srv/billing.git"}
    assert (tmp_path / ".gitignore").read_text().splitlines() == ["services/orders", "billing"]

    listed = meta("project", "list", "--json", cwd=tmp_path)
    assert [p["project"] for p in json.loads(listed.stdout)] == ["services/orders", "billing"]
    assert "s3cret" not in listed.stdout  # credentials in URLs are never printed
    table = meta("project", "list", cwd=tmp_path).stdout
    assert "u:***@example.invalid" in table and "s3cret" not in table

    assert meta("project", "remove", "services/orders", cwd=tmp_path).returncode == 0
    assert read_manifest(tmp_path)["projects"] == {"billing": "file:///srv/billing.git"}
    assert (tmp_path / ".gitignore").read_text().splitlines() == ["billing"]


def test_gitignore_other_lines_are_kept(tmp_path, meta):
    meta("init", cwd=tmp_path)
    (tmp_path / ".gitignore").write_text("node_modules\n/already/\n")
    meta("project", "add", "already", "file:///a", cwd=tmp_path)
    meta("project", "add", "new", "file:///n", cwd=tmp_path)
    assert (tmp_path / ".gitignore").read_text() == "node_modules\n/already/\nnew\n"


def test_import_reads_url_from_origin(tmp_path, meta):
    meta("init", cwd=tmp_path)
    clone = tmp_path / "libs" / "shared"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    git("remote", "add", "origin", "git@example.invalid:acme/shared.git", cwd=clone)
    assert meta("project", "import", "libs/shared", cwd=tmp_path).returncode == 0
    assert read_manifest(tmp_path)["projects"] == {"libs/shared": "git@example.invalid:acme/shared.git"}


def test_import_refuses_a_folder_that_is_not_a_repo(tmp_path, meta):
    meta("init", cwd=tmp_path)
    (tmp_path / "plain").mkdir()
    before = (tmp_path / ".meta").read_bytes()
    proc = meta("project", "import", "plain", cwd=tmp_path)
    assert proc.returncode == 2 and "is not a git repository" in proc.stderr
    assert (tmp_path / ".meta").read_bytes() == before


def test_dash_C_names_the_root(tmp_path, meta):
    meta("init", cwd=tmp_path)
    meta("project", "add", "a", "file:///a", cwd=tmp_path)
    (tmp_path / "elsewhere").mkdir()
    proc = meta("-C", str(tmp_path), "project", "list", "--json", cwd=tmp_path / "elsewhere")
    assert [p["project"] for p in json.loads(proc.stdout)] == ["a"]
    # and the root is found by walking up
    (tmp_path / "a" / "deep").mkdir(parents=True)
    proc = meta("project", "list", "--json", cwd=tmp_path / "a" / "deep")
    assert [p["project"] for p in json.loads(proc.stdout)] == ["a"]
