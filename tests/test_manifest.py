"""The manifest: npm-meta compatible, validated, order kept, refused input changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metarepo.errors import ManifestError, MetaError
from metarepo.manifest import Selection, load_manifest, parse_manifest_text

ROOT = Path(__file__).resolve().parent.parent


def write_meta(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".meta").write_text(text)
    return root


def test_example_manifest_loads_with_settings_merged(tmp_path):
    shutil.copy(ROOT / ".meta.example", tmp_path / ".meta")
    manifest = load_manifest(tmp_path)
    orders = manifest.project("services/orders")
    assert orders.tags == ("backend", "core")
    assert orders.setting("registry") == "registry.acme.io/acme"  # from defaults
    assert orders.setting("vars") == {"node_version": "20", "java_version": "21"}  # merged
    assert manifest.project("billing").setting("ci") == "github"  # own beats default
    assert manifest.environment("staging")["target"] == "swarm"


def test_unknown_environment_names_the_known_ones(tmp_path):
    shutil.copy(ROOT / ".meta.example", tmp_path / ".meta")
    with pytest.raises(MetaError, match="unknown environment 'qa'.*production, staging"):
        load_manifest(tmp_path).environment("qa")


@pytest.mark.parametrize("text, where, what", [
    ('{\n  "projects": {\n    "a": "u",\n  }\n}\n', ":4:3", "invalid JSON"),
    ('{"projects": ["a"]}', "projects", "must be an object"),
    ('{"projects": {"a": 1}}', "projects.a", "URL must be a string"),
    ('{"projects": {"/abs/a": "u"}}', "projects./abs/a", "relative"),
    ('{"projects": {"a/../../b": "u"}}', "projects.a/../../b", "'..'"),
    ('{"projects": {"a/b": "u", "a//b/": "v"}}', "projects.a//b/", "name the same folder"),
    ('{"projects": {"a": "ext::sh -c touch% /tmp/pwned"}}', "projects.a", "ext:: transport"),
    ('{"projects": {"a": "FD::17"}}', "projects.a", "fd:: transport"),
    ('{"projects": {"-a": "u"}}', "projects.-a", "start with '-'"),
    ('{"projects": {"a": "-u"}}', "projects.a", "option"),
    ('{"projects": {"a": "u", "a": "v"}}', ".meta", "appears twice"),
    ('[]', ".meta", "top level"),
    ('{"projects": {}, "metarepo": {"projects": {"ghost": {}}}}', "metarepo.projects.ghost", "names no project"),
    ('{"projects": {}, "metarepo": []}', "metarepo", "must be an object"),
    ('{"projects": {}, "x": ' + "[" * 100000 + "]" * 100000 + "}", ".meta", "nested more than 64 levels"),
    ('{"projects": {}, "x": ' + "[" * 200 + "]" * 200 + "}", ".meta", "nested more than 64 levels"),
    ('{"projects": {},\n "x": ' + "9" * 5000 + "}", ".meta:2:7", "a number with more than 4300 digits"),
    ('{"projects": {}, "x": NaN}', ".meta", "NaN is not valid JSON"),
    ('{"projects": {"a": "u"}, "metarepo": {"projects": {"a": {"tags": 5}}}}', "metarepo.projects.a.tags",
     "must be a list of tag names, not a number"),
    ('{"projects": {"a": "u"}, "metarepo": {"projects": {"a": {"tags": "backend"}}}}', "metarepo.projects.a.tags",
     'like ["backend"], not a string'),
    ('{"projects": {"a": "u"}, "metarepo": {"defaults": {"tags": "edge"}}}', "metarepo.defaults.tags",
     "not a string"),
    ('{"projects": {"a": "u"}, "metarepo": {"projects": {"a": {"tags": ["x,y"]}}}}', "metarepo.projects.a.tags",
     '"x,y" is not a tag name'),
    ('{"projects": {"a": "u"}, "metarepo": {"projects": {"a": {"tags": [7]}}}}', "metarepo.projects.a.tags",
     "7 is not a tag name"),
    ('{"projects": {".metarepo": "u"}}', "projects..metarepo", "the meta repo's own"),
    ('{"projects": {".Metarepo/x": "u"}}', "projects..Metarepo/x", "the meta repo's own"),
    ('{"projects": {".gitignore": "u"}}', "projects..gitignore", "the meta repo's own"),
    ('{"projects": {".GIT/hooks": "u"}}', "projects..GIT/hooks", "inside, a .git directory"),
    ('{"projects": {"a/.Git./hooks": "u"}}', "projects.a/.Git./hooks", ".git directory"),
    ('{"projects": {"a/.g\u200cit": "u"}}', "projects.a/.g\u200cit", ".git directory"),
    ('{"projects": {"GIT~1/x": "u"}}', "projects.GIT~1/x", ".git directory"),
    ('{"projects": {"a\\nb": "u"}}', "projects.a\\nb:", "control character"),
    ('{"projects": {"a\\u001b[2Jb": "u"}}', "projects.a\\x1b[2Jb:", "control character"),
    ('{"projects": {"a\\tb": "u"}}', "projects.a\\tb:", "control character"),
    ('{"projects": {}, "metarepo": {"projects": {"gh\\nost": {}}}}', "metarepo.projects.gh\\nost:",
     "names no project"),
    ('{"projects": {"a/' + "b" * 256 + '": "u"}}', "projects.a/bbb", "longer than 255 bytes"),
])

def test_malformed_manifest_is_one_clear_line(tmp_path, meta, text, where, what):
    root = write_meta(tmp_path / "m", text)
    proc = meta("status", cwd=root)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr  # one line, no traceback
    assert where in lines[0] and what in lines[0]
    assert lines[0].startswith(f"meta: {root / '.meta'}")


def test_a_manifest_or_state_folder_of_the_wrong_kind_is_one_line(tmp_path, meta):
    (tmp_path / "a/.meta").mkdir(parents=True)
    proc = meta("-C", str(tmp_path / "a"), "status")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"meta: {tmp_path / 'a/.meta'}: cannot read it: Is a directory"]
    write_meta(tmp_path / "b", '{"projects": {}}')
    (tmp_path / "b/.metarepo").write_text("")
    proc = meta("project", "add", "x", "file:///x", cwd=tmp_path / "b")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert ".metarepo is not a folder" in proc.stderr

def test_malformed_json_names_file_line_and_column(tmp_path, meta):
    root = write_meta(tmp_path, '{\n  "projects": {\n    "a": "u"\n    "b": "v"\n  }\n}\n')
    proc = meta("project", "list", cwd=root)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"meta: {root / '.meta'}:4:5: invalid JSON")
    assert "Traceback" not in proc.stderr


def test_no_manifest_says_how_to_make_one(tmp_path, meta):
    proc = meta("status", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no .meta found" in proc.stderr and "meta init" in proc.stderr


def test_key_order_and_unknown_keys_survive_a_write(tmp_path, meta):
    original = {"zeta": 1, "projects": {"b": "file:///b", "a": "file:///a"}, "ignore": ["x"],
                "meta-plugin-thing": {"keep": True}}
    write_meta(tmp_path, json.dumps(original, indent=2) + "\n")
    assert meta("project", "add", "c", "file:///c", cwd=tmp_path).returncode == 0
    text = (tmp_path / ".meta").read_text()
    data = json.loads(text)
    assert list(data) == ["zeta", "projects", "ignore", "meta-plugin-thing"]
    assert list(data["projects"]) == ["b", "a", "c"]
    assert data["meta-plugin-thing"] == {"keep": True}
    assert text == json.dumps(data, indent=2) + "\n"  # npm meta's own formatting


@pytest.mark.parametrize("args", [
    ("project", "add", "../evil", "file:///x"),
    ("project", "add", "/abs", "file:///x"),
    ("project", "add", "b", "ext::sh -c id"),
    ("project", "add", "a", "file:///again"),
    ("project", "add", "./a", "file:///again"),
    ("project", "remove", "nope"),
    ("project", "import", "not-there"),
])
def test_refused_command_leaves_manifest_byte_for_byte(tmp_path, meta, args):
    text = '{\n    "projects": {"a": "file:///a"},\n "odd":   "spacing"\n}'
    write_meta(tmp_path, text)
    (tmp_path / ".gitignore").write_text("a\n")
    proc = meta(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / ".meta").read_text() == text
    assert (tmp_path / ".gitignore").read_text() == "a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_selection_flags(tmp_path):
    write_meta(tmp_path, json.dumps({"projects": {"svc/a": "u", "svc/b": "u", "lib/c": "u"},
                                     "metarepo": {"projects": {"svc/a": {"tags": ["x"]}, "lib/c": {"tags": ["x"]}}}}))
    projects = load_manifest(tmp_path).projects
    names = lambda sel: [p.name for p in sel.apply(projects)]  # noqa: E731
    assert names(Selection()) == ["svc/a", "svc/b", "lib/c"]
    assert names(Selection(include_only=("a", "lib/c"))) == ["svc/a", "lib/c"]
    assert names(Selection(exclude=("svc/b",))) == ["svc/a", "lib/c"]
    assert names(Selection(include_pattern="^svc/")) == ["svc/a", "svc/b"]
    assert names(Selection(exclude_pattern="b$")) == ["svc/a", "lib/c"]
    assert names(Selection(tags=("x",))) == ["svc/a", "lib/c"]
    with pytest.raises(MetaError, match="no project 'zz'"):
        Selection(include_only=("zz",)).apply(projects)
    with pytest.raises(MetaError, match="invalid regular expression"):
        Selection(include_pattern="(").apply(projects)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["projects", "metarepo", "ignore", "x"]), json_values, max_size=4)
       | st.dictionaries(st.just("projects"), st.dictionaries(st.text(max_size=12), json_values, max_size=4)))
def test_random_manifests_load_or_give_a_clear_error(tmp_path_factory, document):
    root = tmp_path_factory.mktemp("h")
    (root / ".meta").write_text(json.dumps(document))
    try:
        load_manifest(root)
    except ManifestError as exc:
        assert exc.exit_code == 2 and str(exc)
    except MetaError as exc:  # e.g. a project named twice by spelling
        assert exc.exit_code == 2


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_random_text_never_crashes_the_parser(text):
    try:
        parse_manifest_text(text, ".meta")
    except ManifestError as exc:
        assert ".meta" in str(exc)


def test_a_new_file_gets_the_umasks_mode_and_an_old_one_keeps_its_own(tmp_path, meta):
    import os
    import stat

    from metarepo.manifest import write_atomic

    umask = os.umask(0o022)
    os.umask(umask)
    proc = meta("init", cwd=tmp_path)  # a new .meta, as any program would create it (mkstemp alone: 0600)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((tmp_path / ".meta").stat().st_mode) == 0o666 & ~umask
    private = tmp_path / "notes.txt"
    private.write_text("x")
    private.chmod(0o640)
    write_atomic(private, "y")
    assert stat.S_IMODE(private.stat().st_mode) == 0o640 and private.read_text() == "y"
    old = os.umask(0o077)
    try:
        from metarepo.files import umask as _umask

        _umask.cache_clear()
        write_atomic(tmp_path / "graph.html", "<svg/>")
        assert stat.S_IMODE((tmp_path / "graph.html").stat().st_mode) == 0o600
    finally:
        os.umask(old)
        _umask.cache_clear()


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["tags", "branch", "vars", "image"]), json_values, max_size=3),
       st.sampled_from(["defaults", "own"]))
def test_random_project_settings_load_or_give_a_clear_error(tmp_path_factory, settings_, where):
    root = tmp_path_factory.mktemp("s")
    ours = {"defaults": settings_} if where == "defaults" else {"projects": {"a": settings_}}
    (root / ".meta").write_text(json.dumps({"projects": {"a": "file:///a"}, "metarepo": ours}))
    try:
        projects = load_manifest(root).projects
    except ManifestError as exc:
        assert exc.exit_code == 2 and "tags" in str(exc)
        return
    assert all(isinstance(tag, str) and tag and "," not in tag for tag in projects[0].tags)
