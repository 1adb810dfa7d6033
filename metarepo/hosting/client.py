"""Making the GitHub client, and calling it with rate-limit backoff."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping, TypeVar

from metarepo.errors import MetaError, UsageError, WorkFailed
from metarepo.manifest import Manifest

T = TypeVar("T")
PUBLIC_API = "https://api.github.com"
MAX_WAIT = 15 * 60.0  # the longest we wait for a rate limit to reset, in seconds
ATTEMPTS = 5
THROTTLE = True  # PyGithub's pause between requests (0.25 s) and writes (1 s), as GitHub asks

_sleep: Callable[[float], None] = time.sleep  # the tests hand in a recorder


class HostingError(MetaError):
    """The GitHub API said no (or could not be reached)."""


def base_url(manifest: Manifest | None, override: str | None = None) -> str:
    """``--github-url``, else ``metarepo.github.base_url``, else the public API."""
    if override:
        url = override
    else:
        settings = (manifest.settings.get("github") if manifest is not None else None) or {}
        url = settings.get("base_url") if isinstance(settings, Mapping) else None
        url = url or PUBLIC_API
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise UsageError(f"GitHub API URL {url!r} must start with https:// (for Enterprise: "
                         "https://HOST/api/v3)")
    return url.rstrip("/")


def github_client(manifest: Manifest | None = None, *, url: str | None = None,
                  token: str | None = None) -> Any:
    """A PyGithub client for the manifest's GitHub; the token from ``GITHUB_TOKEN``."""
    token = token or os.environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise UsageError("GITHUB_TOKEN is not set: create a token that can push and open pull requests, "
                         "then run `export GITHUB_TOKEN=<token>`")
    import github

    pauses = {} if THROTTLE else {"seconds_between_requests": None, "seconds_between_writes": None}
    return github.Github(auth=github.Auth.Token(token), base_url=base_url(manifest, url), retry=None,
                         timeout=30, per_page=100, lazy=True, **pauses)


def with_backoff(call: Callable[[], T], *, what: str) -> T:
    """``call()``, waiting out GitHub rate limits; other API errors become ``HostingError``."""
    import github

    for attempt in range(ATTEMPTS):
        try:
            return call()
        except github.GithubException as exc:
            wait = rate_limit_wait(exc)
            if wait is None:
                raise HostingError(f"{what}: {describe(exc)}") from None
            if wait > MAX_WAIT:
                raise WorkFailed(f"{what}: GitHub rate limit exhausted for {wait / 60:.0f} more minutes; "
                                 "try again later") from None
            if attempt == ATTEMPTS - 1:
                raise WorkFailed(f"{what}: still rate limited after {ATTEMPTS} tries") from None
            _sleep(max(wait, 2.0 ** attempt))
        except OSError as exc:  # requests' connection errors are OSErrors
            raise HostingError(f"{what}: cannot reach GitHub ({exc.__class__.__name__})",
                               hint="check --github-url or metarepo.github.base_url") from None
    raise AssertionError("unreachable")


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def rate_limit_wait(exc: Any) -> float | None:
    """Seconds to wait before retrying, if ``exc`` is a rate limit; else None."""
    import github

    status = getattr(exc, "status", None)
    headers = getattr(exc, "headers", None) or {}
    retry_after = _header(headers, "Retry-After")
    remaining = _header(headers, "X-RateLimit-Remaining")
    limited = isinstance(exc, github.RateLimitExceededException) or status == 429 or (
        status == 403 and (retry_after is not None or remaining == "0"))
    if not limited:
        return None
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    reset = _header(headers, "X-RateLimit-Reset")
    if reset is not None and remaining == "0":
        try:
            return max(1.0, float(reset) - time.time() + 1)
        except ValueError:
            pass
    return 60.0  # GitHub's advice for a secondary limit with no header: wait at least a minute


def describe(exc: Any) -> str:
    data = getattr(exc, "data", None)
    message = data.get("message") if isinstance(data, dict) else None
    errors = data.get("errors") if isinstance(data, dict) else None
    detail = ""
    if isinstance(errors, list) and errors:
        first = errors[0]
        detail = f" ({first.get('message') or first.get('code') or first})" if isinstance(first, dict) else ""
    status = getattr(exc, "status", "?")
    if status == 401:
        return "GitHub refused the token (401 Bad credentials); check GITHUB_TOKEN"
    return f"GitHub said {status} {message or ''}{detail}".rstrip()
