"""Image references: one parser for `meta build`, the pipelines `meta ci generate` writes, and rollouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from metarepo.errors import ManifestError
from metarepo.image_reference import (ImageReference, InvalidReference, check_registry, check_repository,
                                      image_repository, normalize_repository, parse_reference, repository,
                                      short_reference, split_reference)
from metarepo.manifest import Project

DIGEST = "sha256:" + "3b" * 32


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), [
    ("registry.example.com:5443/team/x", "registry.example.com:5443", "team/x", None, None),  # a port, not a tag
    ("registry.example.com:5443/team/x:v1", "registry.example.com:5443", "team/x", "v1", None),
    ("localhost/x", "localhost", "x", None, None),
    ("localhost:5000/x:1.2", "localhost:5000", "x", "1.2", None),
    ("127.0.0.1:5000/demo/orders", "127.0.0.1:5000", "demo/orders", None, None),
    ("[::1]:5000/orders", "[::1]:5000", "orders", None, None),
    (f"orders@{DIGEST}", None, "orders", None, DIGEST),
    (f"ghcr.io/acme/orders:v1@{DIGEST}", "ghcr.io", "acme/orders", "v1", DIGEST),
    ("busybox", None, "busybox", None, None),
    ("busybox:1.36", None, "busybox", "1.36", None),
    ("acme/orders", None, "acme/orders", None, None),  # Docker Hub: a first component with no '.', ':'
    ("Registry/x", "Registry", "x", None, None),  # an upper-case first component is a host, as Docker reads it
])
def test_references_split_as_docker_reads_them(text, domain, path, tag, digest) -> None:
    parsed = parse_reference(text)
    assert parsed == ImageReference(domain, path, tag, digest)
    assert str(parsed) == text
    assert parsed.registry_host == (domain or "")


@pytest.mark.parametrize(("name", "normal"), [
    ("busybox", "docker.io/library/busybox"),
    ("docker.io/busybox", "docker.io/library/busybox"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox"),
    ("acme/orders", "docker.io/acme/orders"),
    ("localhost/orders", "localhost/orders"),
    ("registry.example.com:5443/orders", "registry.example.com:5443/orders"),
])
def test_docker_hub_library_names_are_spelt_out(name, normal) -> None:
    assert normalize_repository(name) == normal


@pytest.mark.parametrize(("text", "why"), [
    ("Orders", "lower-case letters"), ("acme//orders", "lower-case letters"), ("-x", "lower-case letters"),
    ("a/-x", "lower-case letters"), ("a b", "lower-case letters"), ("", "cannot be empty"),
    ("a" * 256, "lower-case letters"), ("acme/orders/", "lower-case letters"),
    ("reg_istry.io/x", "not a registry"), ("x:-bad", "not a valid tag"), ("x@sha256:abc", "not a digest"), ("x@", "not a digest"), ("x:", "not a valid tag"),
    (f"x@{DIGEST}@{DIGEST}", "not a digest"),
])
def test_invalid_references_say_which_part(text, why) -> None:
    with pytest.raises(InvalidReference, match=why):
        parse_reference(text)


def test_a_repository_has_no_tag_and_errors_name_the_key() -> None:
    for good in ("orders", "acme/orders", "127.0.0.1:5000/demo/orders", "registry.acme.io/a/b-c/d__e.f",
                 "localhost/x", "registry.example.com:5443/team/x"):
        assert check_repository(good, "k") == good
    for bad in ("Orders", "x:tag", f"x@{DIGEST}", 5):
        with pytest.raises(ManifestError, match="^k: .*not a valid image name"):
            check_repository(bad, "k")


@pytest.mark.parametrize("good", ["127.0.0.1:5000", "registry.acme.io/acme", "acme", "localhost:5000/",
                                  "registry.example.com:5443/team"])
def test_registries(good) -> None:
    assert check_registry(good, "k") == good.rstrip("/")


@pytest.mark.parametrize("bad", ["host with space", "acme/x:tag", "", 5, True])
def test_bad_registries_name_the_key(bad) -> None:
    with pytest.raises(ManifestError, match="^k: .*is not a registry"):
        check_registry(bad, "k")


def test_a_registry_is_put_in_front_unless_the_image_names_its_own() -> None:
    assert repository("127.0.0.1:5000/demo", "orders") == "127.0.0.1:5000/demo/orders"
    assert repository("127.0.0.1:5000/demo/", "ghcr.io/acme/orders") == "ghcr.io/acme/orders"
    assert repository("127.0.0.1:5000/demo", "registry.example.com:5443/team/x") == "registry.example.com:5443/team/x"
    assert repository("r.io", "acme/orders") == "r.io/acme/orders"  # a Docker Hub name under the registry
    assert repository(None, "orders") == "orders"


def test_a_projects_image_and_registry_are_checked_where_they_are_set() -> None:
    def project(**settings) -> Project:
        return Project(name="services/orders", url="u", path=Path("/nonexistent/x"), settings=settings)

    assert image_repository(project()) == "orders"
    assert image_repository(project(registry="r.io:5443/acme")) == "r.io:5443/acme/orders"
    assert image_repository(project(registry="r.io/acme"), "127.0.0.1:5000") == "127.0.0.1:5000/orders"
    assert image_repository(project(image="registry.example.com:5443/team/x")) == "registry.example.com:5443/team/x"
    with pytest.raises(ManifestError, match=r"^metarepo\.projects\.services/orders\.registry: "):
        image_repository(project(registry="bad host"))
    with pytest.raises(ManifestError, match=r"^--registry: "):
        image_repository(project(), "bad host")
    with pytest.raises(ManifestError, match=r"^metarepo\.projects\.services/orders\.image: 'Orders:latest' is not"):
        image_repository(project(image="Orders:latest"))


def test_split_and_short_references() -> None:
    assert split_reference("127.0.0.1:5000/o:v1@sha256:ab") == ImageReference("127.0.0.1:5000", "o", "v1", "sha256:ab")
    assert split_reference("${BASE}").path == "${BASE}"  # a FROM line need not be valid: nothing is checked
    assert short_reference("r:1/demo/orders:61782f1f44650ec72c17@sha256:86") == "orders:61782f1f4465"
    assert short_reference(None) == "the previous spec"


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        parsed = parse_reference(text)
    except InvalidReference as exc:
        assert str(exc)
        return
    assert str(parsed) == text
