"""The whole fleet's topology for one environment: its broker setting, the contract graph, the plan.

The broker serves every service, so the graph is the whole manifest's
(never a selection), read from each clone's work tree like ``meta graph``,
through the contracts cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from metarepo.errors import UsageError
from metarepo.manifest import Manifest

from metarepo.broker.client import Management
from metarepo.broker.plan import broker_name, plan_topology
from metarepo.broker.settings import BrokerSettings, broker_settings, credentials
from metarepo.broker.topology import Topology


@dataclass(frozen=True)
class BrokerFleet:
    settings: BrokerSettings
    topology: Topology
    contracts: Mapping[str, Any]  # service -> contracts.model.Contract, for the probe's schemas
    notes: tuple[str, ...]


def environment_broker(manifest: Manifest, env: str) -> BrokerSettings:
    """Environment ``env``'s broker; bad input if it has none."""
    settings = broker_settings(env, manifest.environment(env))
    if settings is None:
        raise UsageError(f"environment {env!r} has no broker",
                         hint=f"add metarepo.environments.{env}.broker to .meta (see .meta.example)")
    return settings


def consumer_names(manifest: Manifest) -> dict[str, str]:
    """Each project's name in its queues' names (``plan.broker_name``)."""
    return {p.name: broker_name(p.name, p.settings) for p in manifest.projects}


def load_broker_fleet(manifest: Manifest, env: str, settings: BrokerSettings | None = None) -> BrokerFleet:
    from metarepo.contracts.cache import contracts_cache
    from metarepo.contracts.fleet import load_fleet, no_gc_pauses
    from metarepo.contracts.graph import build_graph, flows

    settings = settings or environment_broker(manifest, env)
    with contracts_cache(manifest) as cache, no_gc_pauses():
        contracts, notes = load_fleet(manifest.projects, cache=cache)
        topology = plan_topology(flows(build_graph(contracts)), settings, consumer_names(manifest))
    return BrokerFleet(settings, topology, contracts, tuple(notes) + topology.notes)


def open_management(settings: BrokerSettings, environ: Mapping[str, str] | None = None) -> Management:
    """The management API of ``settings``' broker, as the user the environment variables name."""
    return Management(settings, credentials(environ))
