"""An environment's ``broker`` setting, validated, and the credentials, which never live in ``.meta``.

``metarepo.environments.ENV.broker``::

    {"kind": "rabbitmq", "url": "http://rabbit.staging:15672", "vhost": "/",
     "exchange": "events", "retry": {"attempts": 3, "delay_ms": 10000}}

``url`` is the management API's root (``http(s)://host:port``, a path
prefix allowed). A ``url`` carrying ``user:pass@`` is refused, and the
refusal does not repeat it: the user and password come from
``META_BROKER_USER`` and ``META_BROKER_PASSWORD`` only. The password is
kept out of every ``repr`` and message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from metarepo.errors import ManifestError, UsageError

KINDS = ("rabbitmq",)
USER_VARIABLE, PASSWORD_VARIABLE = "META_BROKER_USER", "META_BROKER_PASSWORD"
_KEYS = ("kind", "url", "vhost", "exchange", "retry")
_RETRY_KEYS = ("attempts", "delay_ms")
MAX_ATTEMPTS = 20
MAX_DELAY_MS = 2**31 - 1  # RabbitMQ's x-message-ttl bound


@dataclass(frozen=True)
class Retry:
    attempts: int = 3  # deliveries in all, the first included; then the error queue
    delay_ms: int = 10_000  # how long a failed message waits before its next attempt


@dataclass(frozen=True)
class BrokerSettings:
    environment: str
    url: str
    vhost: str = "/"
    exchange: str = "events"
    retry: Retry = field(default_factory=Retry)
    kind: str = "rabbitmq"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "vhost": self.vhost, "exchange": self.exchange,
                "retry": {"attempts": self.retry.attempts, "delay_ms": self.retry.delay_ms}}


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return self.user


def broker_settings(env: str, raw_env: Mapping[str, Any]) -> BrokerSettings | None:
    """The ``broker`` of environment ``env`` (its ``.meta`` entry ``raw_env``), or None when it has none."""
    where = f"metarepo.environments.{env}.broker"
    raw = raw_env.get("broker") if isinstance(raw_env, Mapping) else None
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ManifestError("must be an object: {kind, url, vhost, exchange, retry}", file=".meta", key=where)
    _known_keys(raw, _KEYS, where)
    kind = raw.get("kind", "rabbitmq")
    if kind not in KINDS:
        raise ManifestError(f"unknown kind {kind!r} (rabbitmq)", file=".meta", key=f"{where}.kind")
    url = _url(raw.get("url"), f"{where}.url")
    vhost = _string(raw, "vhost", "/", where)
    exchange = _string(raw, "exchange", "events", where)
    retry_raw = raw.get("retry", {})
    if not isinstance(retry_raw, Mapping):
        raise ManifestError("must be an object: {attempts, delay_ms}", file=".meta", key=f"{where}.retry")
    _known_keys(retry_raw, _RETRY_KEYS, f"{where}.retry")
    retry = Retry(attempts=_whole(retry_raw, "attempts", 3, 1, MAX_ATTEMPTS, f"{where}.retry"),
                  delay_ms=_whole(retry_raw, "delay_ms", 10_000, 0, MAX_DELAY_MS, f"{where}.retry"))
    return BrokerSettings(environment=env, url=url, vhost=vhost, exchange=exchange, retry=retry, kind=kind)


def credentials(environ: Mapping[str, str] | None = None) -> Credentials:
    """The broker user and password from the environment; one line naming the variables if unset."""
    environ = os.environ if environ is None else environ
    user, password = environ.get(USER_VARIABLE, ""), environ.get(PASSWORD_VARIABLE, "")
    missing = [name for name, value in ((USER_VARIABLE, user), (PASSWORD_VARIABLE, password)) if not value]
    if missing:
        raise UsageError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                         hint="the broker's user and password come from the environment, never from .meta")
    return Credentials(user, password)


def _known_keys(raw: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in raw:
        if not (isinstance(key, str) and key.startswith("//")) and key not in known:
            raise ManifestError(f"unknown key (known: {', '.join(known)})", file=".meta", key=f"{where}.{key}")


def _url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ManifestError("must be the management API's URL, such as http://rabbit:15672", file=".meta", key=key)
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ManifestError("is not a URL (http://host:15672)", file=".meta", key=key) from None
    if "@" in parts.netloc:  # never repeat it: it may hold a password
        raise ManifestError(f"must not carry a user or password; set {USER_VARIABLE} and {PASSWORD_VARIABLE}",
                            file=".meta", key=key)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ManifestError("must be an http:// or https:// URL of the management API (http://host:15672)",
                            file=".meta", key=key)
    if parts.query or parts.fragment:
        raise ManifestError("must not have a query or fragment", file=".meta", key=key)
    return value.strip().rstrip("/")


def _string(raw: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise ManifestError("must be a non-empty string", file=".meta", key=f"{where}.{key}")
    return value


def _whole(raw: Mapping[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ManifestError(f"must be a whole number from {low} to {high}, not {value!r}", file=".meta",
                            key=f"{where}.{key}")
    return value
