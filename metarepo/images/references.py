"""Image references: ``registry/path/name:tag``, checked against Docker's own grammar.

The grammar is the distribution project's (``reference/regexp.go``): a
domain (with a port) is the first component when it holds a ``.`` or a
``:`` or is ``localhost``; path components are lower-case alphanumerics
joined by ``.``, ``_``, ``__`` or dashes; a tag is up to 128 word
characters, dots and dashes, not starting with either.
"""

from __future__ import annotations

import re

from metarepo.errors import ManifestError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REPOSITORY = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_MAX_NAME = 255


def is_domain(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def repository(registry: str | None, image: str) -> str:
    """``registry/image``; ``image`` may already carry a registry (then ``registry`` is not added)."""
    first = image.split("/", 1)[0]
    if registry and not (is_domain(first) and "/" in image):
        return f"{registry.rstrip('/')}/{image}"
    return image


def check_repository(name: str, key: str) -> str:
    """``name`` if it is a valid repository (no tag), else a ``ManifestError`` naming ``key``."""
    if not isinstance(name, str) or len(name) > _MAX_NAME or not _REPOSITORY.match(name):
        raise ManifestError(f"{name!r} is not a valid image name (lower-case letters, digits, '.', '_', '-' "
                            "and '/', after an optional registry host)", key=key)
    return name


def is_tag(text: str) -> bool:
    return isinstance(text, str) and bool(_TAG.match(text))


def check_tag(tag: str, where: str) -> str:
    if not is_tag(tag):
        raise ManifestError(f"{tag!r} is not a valid image tag (up to 128 letters, digits, '_', '.' and '-', "
                            "not starting with '.' or '-')", key=where)
    return tag


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of ``name[:tag][@digest]``; a port is not taken for a tag."""
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1:], digest or None
    return rest, None, digest or None


def normalize_repository(name: str) -> str:
    """Docker Hub's implied names spelt out, so ``busybox`` and ``docker.io/library/busybox`` compare equal."""
    first = name.split("/", 1)[0]
    if "/" not in name or not is_domain(first):
        name = f"docker.io/{name if '/' in name else 'library/' + name}"
    return name


def short_reference(reference: str | None) -> str:
    """``orders:61782f1f4465`` for ``registry/demo/orders:<sha>@sha256:...``: enough to tell versions apart."""
    if not reference:
        return "the previous spec"
    repo, tag, _ = split_reference(reference)
    name = repo.rsplit("/", 1)[-1]
    return f"{name}:{tag[:12]}" if tag else name
