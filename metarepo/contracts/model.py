"""The values the contracts package passes around (frozen, hashable where it matters), and its states.

A message is what travels: a channel (an AsyncAPI address, a Kafka topic,
a contracts.yaml message name) and the name of one message type on it. A
service's contract is the list of endpoints where it sends or receives one
message, each with the payload schema and the AsyncAPI bindings found there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, Mapping, NamedTuple


class Format(str, Enum):
    JSON_SCHEMA = "json"
    AVRO = "avro"


class Role(str, Enum):
    PRODUCER = "producer"
    CONSUMER = "consumer"


class Policy(str, Enum):
    STRICT = "strict"
    LENIENT = "lenient"


class Compatibility(str, Enum):
    """A verdict's state. ``UNDECIDED``: a bound on the work (regex time, sizes) was reached; gates treat it as
    not safe."""

    COMPATIBLE = "compatible"
    BREAKING = "breaking"
    UNDECIDED = "undecided"


JSON_SCHEMA, AVRO = Format.JSON_SCHEMA, Format.AVRO
PRODUCER, CONSUMER = Role.PRODUCER, Role.CONSUMER
STRICT, LENIENT = Policy.STRICT, Policy.LENIENT


def digest_of(document: Any, fmt: str = JSON_SCHEMA) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha1(f"{Format(fmt).value}\0{text}".encode()).hexdigest()


@dataclass(frozen=True)
class Schema:
    """One message payload schema, self-contained (every ``$ref`` resolved into it)."""

    document: Any = field(compare=False, repr=False)
    format: Format = JSON_SCHEMA
    source: str = ""  # where it was declared, for messages
    digest: str = ""

    @classmethod
    def of(cls, document: Any, fmt: str = JSON_SCHEMA, source: str = "") -> "Schema":
        return cls(document=document, format=Format(fmt), source=source, digest=digest_of(document, fmt))


class Message(NamedTuple):
    """One message type on one channel. In contracts.yaml the two are the same name.
    (A tuple: it is the key of every table of a fleet's messages, and hashes and sorts as fast as one.)"""

    channel: str
    name: str

    @property
    def label(self) -> str:
        return self.channel if self.name == self.channel else f"{self.channel} ({self.name})"

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True, eq=False)
class Bindings:
    """AsyncAPI protocol bindings (``amqp``, ``kafka``, ...) where an endpoint declares them, as written:
    protocol name to that protocol's binding object, on its channel, its operation and its message."""

    channel: Mapping[str, Any] = field(default_factory=dict)
    operation: Mapping[str, Any] = field(default_factory=dict)
    message: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.channel or self.operation or self.message)

    def as_json(self) -> dict:
        return {k: dict(v) for k, v in (("channel", self.channel), ("operation", self.operation),
                                        ("message", self.message)) if v}


@dataclass(frozen=True)
class Endpoint:
    """A service sends (``role`` producer) or receives (consumer) ``message`` with this payload ``schema``."""

    role: Role
    message: Message
    schema: Schema
    operation: str = ""  # the AsyncAPI operation id (contracts.yaml: "publishes.NAME")
    bindings: Bindings = field(default_factory=Bindings, compare=False)
    reply: bool = False  # an AsyncAPI 3 operation reply: the replier sends it, the requester receives it


@dataclass(frozen=True)
class Contract:
    """What one service sends and receives."""

    service: str
    endpoints: tuple[Endpoint, ...] = ()
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @cached_property
    def publishes(self) -> Mapping[Message, Schema]:
        return {e.message: e.schema for e in self.endpoints if e.role is PRODUCER}

    @cached_property
    def consumes(self) -> Mapping[Message, Schema]:
        return {e.message: e.schema for e in self.endpoints if e.role is CONSUMER}

    def channels(self, role: Role) -> Mapping[str, list[Message]]:
        """Channel to the messages this service sends (or receives) there, in declaration order."""
        return self._sends if role is PRODUCER else self._reads

    @cached_property
    def _sends(self) -> Mapping[str, list[Message]]:
        return _by_channel(self.publishes)

    @cached_property
    def _reads(self) -> Mapping[str, list[Message]]:
        return _by_channel(self.consumes)

    @property
    def empty(self) -> bool:
        return not self.endpoints


def _by_channel(messages: Mapping[Message, Schema]) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    for message in messages:
        out.setdefault(message.channel, []).append(message)
    return out


@dataclass(frozen=True)
class Change:
    """One difference between a writer's and a reader's schema."""

    path: str  # a JSON pointer into the schema, "#/properties/total"
    kind: str  # confluent-style, lower case: "required_property_added"
    breaking: bool
    message: str
    # Where in a message the change shows, and the two sub-schemas there: the
    # example generator's starting point. Not part of the public shape.
    where: tuple = field(default=(), compare=False, repr=False)
    writer: Any = field(default=None, compare=False, repr=False)
    reader: Any = field(default=None, compare=False, repr=False)

    def as_json(self) -> dict:
        return {"path": self.path, "kind": self.kind, "breaking": self.breaking, "message": self.message}


NO_EXAMPLE = object()


@dataclass(frozen=True)
class Verdict:
    """Can a reader built for one schema read everything a writer of the other sends?

    In JSON, ``has_example`` says whether there is an example; ``example``
    (present only then) is the message, which may itself be ``null``.
    """

    state: Compatibility
    changes: tuple[Change, ...] = ()
    example: Any = NO_EXAMPLE  # a message the writer accepts and the reader rejects, or NO_EXAMPLE

    def __post_init__(self) -> None:
        if isinstance(self.state, bool):  # Verdict(True) reads as "compatible"
            object.__setattr__(self, "state", Compatibility.COMPATIBLE if self.state else Compatibility.BREAKING)

    @property
    def compatible(self) -> bool:
        return self.state is Compatibility.COMPATIBLE

    @property
    def has_example(self) -> bool:
        return self.example is not NO_EXAMPLE

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking)

    def as_json(self) -> dict:
        out = {"compatible": self.compatible, "state": self.state.value, "changes": [c.as_json() for c in self.changes],
               "has_example": self.has_example}
        if self.has_example:
            out["example"] = self.example
        return out


@dataclass(frozen=True)
class Pair:
    """One producer's message and one consumer that reads it (as ``read_as``, the consumer's name for it)."""

    message: Message
    producer: str
    consumer: str
    verdict: Verdict
    producer_version: str = "working tree"
    consumer_version: str = "working tree"
    read_as: Message | None = None

    @property
    def compatible(self) -> bool:
        return self.verdict.compatible

    @property
    def state(self) -> Compatibility:
        return self.verdict.state

    @property
    def reader_message(self) -> Message:
        return self.read_as or self.message

    def as_json(self) -> dict:
        return {"channel": self.message.channel, "message": self.message.name, "read_as": self.reader_message.name,
                "producer": self.producer, "consumer": self.consumer,
                "producer_version": self.producer_version, "consumer_version": self.consumer_version,
                **self.verdict.as_json()}
