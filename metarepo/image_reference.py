"""Image references, ``[registry[:port]/]path[:tag][@digest]``, read as Docker reads them.

One parser for every command that names an image (``meta build``, the
pipelines ``meta ci generate`` writes, ``meta rollout``). The grammar is the
distribution project's (``reference/regexp.go``, ``normalize.go``): the
first component is a registry when it holds a ``.`` or a ``:`` (a port), is
``localhost``, or has an upper-case letter; otherwise the image is on Docker
Hub, where a one-word name is an official image (``busybox`` is
``docker.io/library/busybox``). Path components are lower-case
alphanumerics joined by ``.``, ``_``, ``__`` or dashes; a tag is up to 128
word characters, dots and dashes, not starting with either; a digest is
``algorithm:hex``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from metarepo.errors import ManifestError

if TYPE_CHECKING:
    from metarepo.manifest import Project

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_ONLY = re.compile(rf"^{_DOMAIN}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_MAX_NAME = 255
DOCKER_HUB = "docker.io"
_LEGACY_HUB = "index.docker.io"


@dataclass(frozen=True)
class ImageReference:
    """One image reference, split; ``domain`` is None for Docker Hub's implied one."""

    domain: str | None  # "registry.example.com:5443", "localhost", None
    path: str  # "team/orders"
    tag: str | None = None
    digest: str | None = None  # "sha256:..."

    @property
    def repository(self) -> str:
        """The name without tag or digest, as written: ``registry.example.com:5443/team/orders``."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def registry_host(self) -> str:
        """The registry ``docker login`` names: the domain, or "" for Docker Hub."""
        return self.domain or ""

    @property
    def normalized(self) -> str:
        """The repository with Docker Hub spelt out, so ``busybox`` and ``docker.io/library/busybox`` are equal."""
        domain = DOCKER_HUB if self.domain in (None, _LEGACY_HUB) else self.domain
        path = f"library/{self.path}" if domain == DOCKER_HUB and "/" not in self.path else self.path
        return f"{domain}/{path}"

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


class InvalidReference(ValueError):
    """Not an image reference Docker would accept; the message says which part."""


def is_domain(component: str) -> bool:
    """Whether the first component of a name is a registry (Docker's rule), not the start of a path."""
    return "." in component or ":" in component or component == "localhost" or component.lower() != component


def split_reference(reference: str) -> ImageReference:
    """``reference`` split into registry, path, tag and digest, nothing checked (see ``parse_reference``).

    A port is not taken for a tag. For a ``FROM`` line that may not be a
    valid name at all (``${BASE}``), where only comparing names matters.
    """
    rest, _, digest = reference.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    tag = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    first, _, remainder = rest.partition("/")
    if remainder and is_domain(first):
        return ImageReference(first, remainder, tag, digest or None)
    return ImageReference(None, rest, tag, digest or None)


def parse_reference(reference: str) -> ImageReference:
    """``reference`` split and checked against Docker's grammar; ``InvalidReference`` says what is wrong."""
    if not isinstance(reference, str):
        raise InvalidReference(f"an image name is a string, not {type(reference).__name__}")
    if not reference:
        raise InvalidReference("an image name cannot be empty")
    parsed = split_reference(reference)
    if parsed.domain is not None and not _DOMAIN_ONLY.match(parsed.domain):
        raise InvalidReference(f"{parsed.domain!r} is not a registry host[:port]")
    if not _PATH.match(parsed.path) or len(parsed.repository) > _MAX_NAME:
        raise InvalidReference("lower-case letters, digits, '.', '_', '-' and '/', after an optional registry host")
    if parsed.tag is not None and not _TAG.match(parsed.tag):
        raise InvalidReference(f"{parsed.tag!r} is not a valid tag")
    if "@" in reference and not _DIGEST.match(parsed.digest or ""):
        raise InvalidReference(f"{parsed.digest or ''!r} is not a digest (algorithm:hex)")
    return parsed


def check_repository(name: str, key: str) -> str:
    """``name`` if it is a valid repository (no tag, no digest), else a ``ManifestError`` naming ``key``."""
    try:
        parsed = parse_reference(name)
        if parsed.tag is not None or parsed.digest is not None:
            raise InvalidReference("a tag or digest does not belong here")
    except InvalidReference as exc:
        raise ManifestError(f"{name!r} is not a valid image name ({exc})", key=key) from None
    return name


def check_registry(registry: str, key: str) -> str:
    """``registry`` (``host[:port][/path]``, or a Docker Hub namespace), else a ``ManifestError`` naming ``key``."""
    text = registry.rstrip("/") if isinstance(registry, str) else ""
    try:
        parsed = parse_reference(text) if not _DOMAIN_ONLY.match(text) else None
        valid = parsed is None or (parsed.tag is None and parsed.digest is None)
    except InvalidReference:
        valid = False
    if not valid:
        raise ManifestError(f"{registry!r} is not a registry (host[:port][/path])", key=key)
    return text


def repository(registry: str | None, image: str) -> str:
    """``registry/image``; ``image`` may already carry a registry (then ``registry`` is not added)."""
    if registry and split_reference(image).domain is None:
        return f"{registry.rstrip('/')}/{image}"
    return image


def image_repository(project: "Project", registry: str | None = None) -> str:
    """The repository a project's image is pushed to and deployed from: ``<registry>/<image>``, checked.

    ``image`` defaults to the project folder's last name; ``registry`` (given,
    else the project's setting) is put in front unless the image names its own.
    """
    where = f"metarepo.projects.{project.name}"
    image = project.setting("image") or Path(project.name).name
    check_repository(image, f"{where}.image")
    registry, key = (registry, "--registry") if registry else (project.setting("registry"), f"{where}.registry")
    if registry:
        check_registry(registry, key)
    return check_repository(repository(registry, image), f"{where}.image")


def is_tag(text: str) -> bool:
    return isinstance(text, str) and bool(_TAG.match(text))


def check_tag(tag: str, where: str) -> str:
    if not is_tag(tag):
        raise ManifestError(f"{tag!r} is not a valid image tag (up to 128 letters, digits, '_', '.' and '-', "
                            "not starting with '.' or '-')", key=where)
    return tag


def normalize_repository(name: str) -> str:
    """Docker Hub's implied names spelt out, so ``busybox`` and ``docker.io/library/busybox`` compare equal."""
    return split_reference(name).normalized


def short_reference(reference: str | None) -> str:
    """``orders:61782f1f4465`` for ``registry/demo/orders:<sha>@sha256:...``: enough to tell versions apart."""
    if not reference:
        return "the previous spec"
    parsed = split_reference(reference)
    name = parsed.path.rsplit("/", 1)[-1]
    return f"{name}:{parsed.tag[:12]}" if parsed.tag else name
