"""Repository URLs: which ones are refused, and how to show one without its secret."""

from __future__ import annotations

import re

# git's "transport::address" remote helpers that run arbitrary commands or
# read arbitrary file descriptors. A manifest is shared data; it must never be
# able to make `meta clone` run a program.
_UNSAFE_TRANSPORTS = ("ext::", "fd::")

_USERINFO = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^@/]*)@")


def unsafe_reason(url: str) -> str | None:
    """Why ``url`` may not be used as a project remote, or None if it may."""
    if not url.strip():
        return "is empty"
    lowered = url.strip().lower()
    for transport in _UNSAFE_TRANSPORTS:
        if lowered.startswith(transport):
            return f"uses the {transport[:-2]}:: transport, which can run commands; refused"
    if url.startswith("-"):
        return "starts with '-' and would be read as an option; refused"
    if any(ch in url for ch in "\n\r\0"):
        return "contains a control character; refused"
    return None


def redact(url: str) -> str:
    """``url`` with any password or token in it replaced by ``***``.

    ``https://user:secret@host/x`` becomes ``https://user:***@host/x`` and
    ``https://TOKEN@host/x`` becomes ``https://***@host/x``; scp-like
    ``git@host:x`` carries no secret and is left alone.
    """
    match = _USERINFO.match(url)
    if not match:
        return url
    user, sep, _secret = match.group("userinfo").partition(":")
    shown = f"{user}:***" if sep else "***"
    return f"{match.group('scheme')}{shown}@{url[match.end():]}"


def _secret_part(url: str) -> tuple[int, int] | None:
    """Where the credential in ``url`` is (start, end of the userinfo and its ``@``), or None.

    A password (``user:secret@``) in any scheme is one; so is a bare name in an
    http(s) URL, where it is how a token is passed (``https://TOKEN@host``). A
    bare user of an ssh or git URL (``ssh://git@host``) is not.
    """
    match = _USERINFO.match(url)
    if not match:
        return None
    userinfo = match.group("userinfo")
    if ":" in userinfo or match.group("scheme").lower() in ("http://", "https://"):
        return match.start("userinfo"), match.end()
    return None


def has_credential(url: str) -> bool:
    """Whether ``url`` carries a password or token (see ``without_credential``)."""
    return _secret_part(url) is not None


def without_credential(url: str) -> str:
    """``url`` with its password or token taken out: what may be written to a shared file.

    ``https://user:secret@host/x`` and ``https://TOKEN@host/x`` become
    ``https://host/x``; ``ssh://git:pw@host/x`` becomes ``ssh://git@host/x``;
    anything else is unchanged.
    """
    part = _secret_part(url)
    if part is None:
        return url
    start, end = part
    user = url[start:end - 1].partition(":")[0]
    keep = f"{user}@" if not url.lower().startswith(("http://", "https://")) and user else ""
    return url[:start] + keep + url[end:]


def redact_text(text: str) -> str:
    """Every URL-embedded credential in free text (git's stderr, say) hidden."""
    return re.sub(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+", lambda m: redact(m.group(0)), text)


def same_remote(a: str, b: str) -> bool:
    """Whether two remote URLs name the same repository (ignoring trivial spelling)."""

    def norm(u: str) -> str:
        u = without_credential(u.strip()).rstrip("/")
        if u.endswith(".git"):
            u = u[:-4]
        if u.startswith("file://"):
            u = u[len("file://"):]
        return u.rstrip("/")

    return norm(a) == norm(b)
