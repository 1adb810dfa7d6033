"""Reading Dockerfiles: the FROM images (ARGs, stages) and the final HEALTHCHECK."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from metarepo.images.dockerfile import DockerfileError, parse_dockerfile, parse_duration
from metarepo.images.release import Healthcheck


def test_bases_follow_args_build_args_and_skip_stage_names():
    text = """# syntax=docker/dockerfile:1
ARG REGISTRY=registry.acme.io/acme
ARG BASE_TAG
FROM --platform=linux/amd64 ${REGISTRY}/base:${BASE_TAG:-latest} AS build
RUN make
FROM build AS test
FROM $REGISTRY/runtime
COPY --from=build /app /app
"""
    assert parse_dockerfile(text).bases == ("registry.acme.io/acme/base:latest", "registry.acme.io/acme/runtime")
    assert parse_dockerfile(text, {"REGISTRY": "127.0.0.1:5000/x", "BASE_TAG": "7"}).bases == (
        "127.0.0.1:5000/x/base:7", "127.0.0.1:5000/x/runtime")


def test_scratch_is_not_a_base_and_continuations_join():
    text = "FROM scratch\nCOPY a \\\n  /a\nHEALTHCHECK --interval=1m30s \\\n  --timeout=500ms --retries=5 \\\n" \
           "  --start-period=2s CMD curl -f http://localhost/ || exit 1\n"
    parsed = parse_dockerfile(text)
    assert parsed.bases == ()
    assert parsed.healthcheck == Healthcheck(("CMD-SHELL", "curl -f http://localhost/ || exit 1"), interval=90.0,
                                             timeout=0.5, retries=5, start_period=2.0)
    assert parsed.healthcheck.command == ("/bin/sh", "-c", "curl -f http://localhost/ || exit 1")


def test_exec_form_healthcheck_and_defaults():
    parsed = parse_dockerfile('FROM scratch\nHEALTHCHECK CMD ["/bin/busybox", "test", "-f", "/tmp/ok"]\n')
    assert parsed.healthcheck.test == ("CMD", "/bin/busybox", "test", "-f", "/tmp/ok")
    assert parsed.healthcheck.command == ("/bin/busybox", "test", "-f", "/tmp/ok")
    assert (parsed.healthcheck.interval, parsed.healthcheck.timeout, parsed.healthcheck.retries) == (30, 30, 3)


def test_only_the_final_stage_health_check_counts():
    text = "FROM a AS one\nHEALTHCHECK CMD true\nFROM b\n"
    assert parse_dockerfile(text).healthcheck is None
    none = parse_dockerfile("FROM a\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n")
    assert none.healthcheck is None and none.healthcheck_disabled


def test_the_example_fleet_dockerfiles(tmp_path):
    from tests.conftest import ROOT

    for dockerfile in (ROOT / "examples" / "fleet").glob("*/Dockerfile"):
        parsed = parse_dockerfile(dockerfile.read_text())
        assert parsed.bases == () and parsed.healthcheck is not None, dockerfile
        assert parsed.healthcheck.interval == 1 and parsed.healthcheck.retries == 2


@pytest.mark.parametrize("text,line", [("RUN x\n", 1), ("FROM a\nHEALTHCHECK --interval=soon CMD x\n", 2),
                                       ("FROM\n", 1), ("FROM a\n\nHEALTHCHECK --retries=x CMD y\n", 3),
                                       ("FROM a\nHEALTHCHECK RUN y\n", 2)])
def test_malformed_dockerfiles_name_the_line(text, line):
    with pytest.raises(DockerfileError) as info:
        parse_dockerfile(text)
    assert info.value.line == line


def test_durations():
    assert parse_duration("1h2m3.5s", 1) == 3723.5
    assert parse_duration("250ms", 1) == 0.25
    for bad in ("", "5", "s", "1x", "1s2"):
        with pytest.raises(DockerfileError):
            parse_duration(bad, 1)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("FROMARGHEALTCKDIN $={}:-\\\n#[]\",ab01s")), max_size=120))
def test_random_text_never_crashes_the_parser(text):
    try:
        parse_dockerfile(text)
    except DockerfileError:
        pass
