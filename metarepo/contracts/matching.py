"""Which consumer reads which message a producer sends: the links the compatibility question is asked of.

On a channel, a consumer reads a message it declares under the same name
(message id). Between two services whose documents name the channel's one
message differently (contracts.yaml names it after the channel, AsyncAPI by
its message id, each team its own), a channel where the producer sends one
message type and the consumer reads one is that message. A service never
reads its own messages under another name: sending ``hello`` and receiving
``outgoingMessage`` on one websocket channel is two messages, not one
message read wrongly; the same holds between a service's old and new
versions during a rolling update. A message the consumer does not declare is
not one it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

from metarepo.contracts.model import CONSUMER, PRODUCER, Contract, Message, Pair, Schema, Verdict


@dataclass(frozen=True)
class Link:
    """``producer`` sends ``sent`` (schema ``writer``); ``consumer`` reads it as ``read`` (schema ``reader``)."""

    producer: str
    sent: Message
    writer: Schema
    consumer: str
    read: Message
    reader: Schema

    def pair(self, verdict: Verdict, producer_version: str = "working tree",
             consumer_version: str = "working tree") -> Pair:
        return Pair(self.sent, self.producer, self.consumer, verdict, producer_version, consumer_version,
                    self.read)


def links(producer: Contract, consumer: Contract, *, same_service: bool | None = None,
          channels: Iterable[str] | None = None) -> list[Link]:
    """What ``consumer`` reads of what ``producer`` sends (on ``channels`` only, when given)."""
    same = producer.service == consumer.service if same_service is None else same_service
    sends, reads = producer.channels(PRODUCER), consumer.channels(CONSUMER)
    found = []
    for channel in (channels if channels is not None else sends):
        sent, read = sends.get(channel), reads.get(channel)
        if not sent or not read:
            continue
        by_name = {m.name: m for m in read}
        for message in sent:
            match = by_name.get(message.name)
            if match is None and not same and len(sent) == 1 and len(read) == 1:
                match = read[0]
            if match is not None:
                found.append(Link(producer.service, message, producer.publishes[message],
                                  consumer.service, match, consumer.consumes[match]))
    return found


def fleet_links(producers: Mapping[str, Contract], consumers: Mapping[str, Contract] | None = None,
                *, same_service_by_name: bool = True) -> Iterator[Link]:
    """Every link from a contract of ``producers`` to one of ``consumers`` (default: the same fleet)."""
    consumers = producers if consumers is None else consumers
    readers: dict[str, list[Contract]] = {}
    for contract in consumers.values():
        for channel in contract.channels(CONSUMER):
            readers.setdefault(channel, []).append(contract)
    for contract in producers.values():
        for channel in contract.channels(PRODUCER):
            for other in readers.get(channel, ()):
                same = other.service == contract.service if same_service_by_name else False
                yield from links(contract, other, same_service=same, channels=(channel,))
