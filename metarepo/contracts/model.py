"""The values the contracts package passes around (frozen, hashable where it matters)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

JSON_SCHEMA = "json"
AVRO = "avro"
PRODUCER, CONSUMER = "producer", "consumer"
STRICT, LENIENT = "strict", "lenient"


def digest_of(document: Any, fmt: str = JSON_SCHEMA) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha1(f"{fmt}\0{text}".encode()).hexdigest()


@dataclass(frozen=True)
class Schema:
    """One message payload schema, self-contained (every ``$ref`` resolved into it)."""

    document: Any = field(compare=False, repr=False)
    format: str = JSON_SCHEMA  # json | avro
    source: str = ""  # where it was declared, for messages
    digest: str = ""

    @classmethod
    def of(cls, document: Any, fmt: str = JSON_SCHEMA, source: str = "") -> "Schema":
        return cls(document=document, format=fmt, source=source, digest=digest_of(document, fmt))


@dataclass(frozen=True)
class Contract:
    """What one service publishes and consumes: message name to its schema."""

    service: str
    publishes: Mapping[str, Schema] = field(default_factory=dict)
    consumes: Mapping[str, Schema] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.publishes and not self.consumes


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
    """Can a reader built for one schema read everything a writer of the other sends?"""

    compatible: bool
    changes: tuple[Change, ...] = ()
    example: Any = NO_EXAMPLE  # a message the writer accepts and the reader rejects, or NO_EXAMPLE

    @property
    def has_example(self) -> bool:
        return self.example is not NO_EXAMPLE

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking)

    def as_json(self) -> dict:
        return {"compatible": self.compatible, "changes": [c.as_json() for c in self.changes],
                "example": self.example if self.has_example else None}


@dataclass(frozen=True)
class Pair:
    """One (producer, consumer) pair of one message, and its verdict."""

    message: str
    producer: str
    consumer: str
    verdict: Verdict
    producer_version: str = "working tree"
    consumer_version: str = "working tree"

    @property
    def compatible(self) -> bool:
        return self.verdict.compatible

    def as_json(self) -> dict:
        return {"message": self.message, "producer": self.producer, "consumer": self.consumer,
                "producer_version": self.producer_version, "consumer_version": self.consumer_version,
                **self.verdict.as_json()}
