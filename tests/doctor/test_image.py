"""What the scorecard reads from a Dockerfile and the scripts it starts, and from a clone's refs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from metarepo.doctor.image import read_image
from metarepo.doctor.logfiles import is_log_folder, log_paths, writes_in_shell
from metarepo.doctor.repository import remote_refs
from metarepo.manifest import Project
from tests.conftest import git


def project(path: Path, **settings) -> Project:
    return Project("services/x", "file:///x.git", path, MappingProxyType(settings), path.parent)


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_the_final_stage_inherits_user_and_layers_from_the_stage_it_builds_on(tmp_path):
    write(tmp_path, {"Dockerfile": "FROM python:3.12 AS build\nUSER app\nRUN make > build.log\n"
                                   "FROM golang:1.22 AS other\nRUN x > other.log\nUSER root\n"
                                   "FROM build\nCOPY start.sh /srv/\nWORKDIR /srv\nENTRYPOINT [\"./start.sh\"]\n",
                     "start.sh": "#!/bin/sh\nexec server 2>> /var/log/err.log\n"})
    facts = read_image(project(tmp_path))
    assert facts.bases == ("python:3.12", "golang:1.22")
    assert facts.user == "app"  # from `build`; the unrelated stage's root does not count
    assert facts.log_writes == ("Dockerfile:3: RUN writes build.log", "start.sh:2: writes /var/log/err.log")


def test_log_files_named_in_cmd_env_and_volumes(tmp_path):
    write(tmp_path, {"Dockerfile": "FROM alpine:3.20\nENV LOG=/var/log/a.log\nVOLUME [\"/data\", \"/app/logs\"]\n"
                                   "CMD server --log-file=/tmp/s.log\n"})
    assert read_image(project(tmp_path)).log_writes == (
        "Dockerfile:2: ENV names the log file /var/log/a.log", "Dockerfile:3: VOLUME /app/logs keeps logs in files",
        "Dockerfile:4: CMD writes /tmp/s.log")


def test_logs_sent_to_the_standard_streams_are_not_log_files(tmp_path):
    write(tmp_path, {"Dockerfile": "FROM nginx:1.27\nRUN ln -sf /dev/stdout /var/log/nginx/access.log\n"
                                   "COPY run.sh /run.sh\nCMD [\"/run.sh\"]\n",
                     "run.sh": "#!/bin/sh\n# exec nginx > /var/log/old.log\nln -sf /dev/stderr /var/log/e.log\n"
                               "exec nginx 2>&1 | cat\n"})
    assert read_image(project(tmp_path)).log_writes == ()


def test_a_script_outside_the_project_is_not_read(tmp_path):
    outside = write(tmp_path / "elsewhere", {"start.sh": "exec x > /var/log/secret.log\n"})
    repo = write(tmp_path / "repo", {"Dockerfile": "FROM alpine:3.20\nCOPY start.sh /start.sh\nCMD [\"/start.sh\"]\n"})
    os.symlink(outside / "start.sh", repo / "start.sh")
    assert read_image(project(repo)).log_writes == ()
    os.symlink(tmp_path / "elsewhere", repo / "docker")
    facts = read_image(project(repo, dockerfile="docker/Dockerfile"))
    assert facts.error == "docker/Dockerfile leads outside the project"


def test_the_dockerfile_is_found_where_build_looks(tmp_path):
    write(tmp_path, {"ops/Dockerfile": "FROM alpine:3.20\nUSER 1000\n", "ctx/Dockerfile": "FROM alpine\n"})
    assert read_image(project(tmp_path, dockerfile="ops/Dockerfile")).user == "1000"
    assert read_image(project(tmp_path, context="ctx")).bases == ("alpine",)
    assert read_image(project(tmp_path)).dockerfile is None
    facts = read_image(project(tmp_path, dockerfile="ops/Dockerfile", build_args={"X": "1"}))
    assert facts.error == ""


def test_arg_substitution_in_from(tmp_path):
    write(tmp_path, {"Dockerfile": "ARG BASE=python:3.12\nFROM ${BASE}\n"})
    assert read_image(project(tmp_path)).bases == ("python:3.12",)
    assert read_image(project(tmp_path, build_args={"BASE": "python:latest"})).bases == ("python:latest",)


def test_shell_writes():
    assert writes_in_shell("a >> /x/a.log; b 2>err.log | tee -a out.log && c &>all.log") == [
        "/x/a.log", "err.log", "all.log", "out.log"]
    assert writes_in_shell("cat < in.log; x > app.logger; y > /dev/null") == []
    assert log_paths("--log=/a.log ./b.log c.log ${D}/e.log") == ["/a.log", "./b.log", "${D}/e.log"]
    assert is_log_folder("/var/log") and is_log_folder("/app/logs/") and not is_log_folder("/catalog")


def test_matching_stays_linear_on_long_lines():
    start = time.monotonic()
    for text in ("/" * 200_000, ">" * 200_000, "tee " * 50_000, ("> /" + "a/" * 1000) * 50, "$" * 100_000 + "/"):
        writes_in_shell(text)
        log_paths(text)
    assert time.monotonic() - start < 5


@settings(max_examples=200, deadline=None)
@given(dockerfile=st.text(alphabet=st.sampled_from(list("FROM USER COPY CMD RUN ENV VOLUME AS [\"]/\\$.log>\n #"))),
       script=st.text(max_size=300))
def test_any_dockerfile_gives_facts_never_an_exception(tmp_path_factory, dockerfile, script):
    folder = tmp_path_factory.mktemp("any")
    write(folder, {"Dockerfile": dockerfile, "s.sh": script})
    facts = read_image(project(folder))
    assert facts.dockerfile == "Dockerfile"


def test_remote_refs_read_from_the_clone_files(tmp_path):
    bare, work = tmp_path / "r.git", tmp_path / "w"
    git("init", "--quiet", "--bare", "--initial-branch=trunk", str(bare), cwd=tmp_path)
    git("clone", "--quiet", str(bare), str(work), cwd=tmp_path)
    git("commit", "--quiet", "--allow-empty", "-m", "one", cwd=work)
    git("push", "--quiet", "origin", "trunk", "trunk:release", cwd=work)
    git("clone", "--quiet", str(bare), str(tmp_path / "c"), cwd=tmp_path)
    refs = remote_refs(tmp_path / "c")
    assert refs.known and refs.default == "trunk" and refs.branches == {"trunk", "release"}
    git("pack-refs", "--all", cwd=tmp_path / "c")
    assert remote_refs(tmp_path / "c") == refs
    assert not remote_refs(tmp_path).known
