"""The rollout pre-flight: a producer does not start while its consumers' queues are missing on the broker.

``BrokerGate.before(plan)`` (the ``images.gates.Gate`` protocol) reads the
contract graph's topology and the broker's queues and bindings, and refuses
the rollout, before anything moves, when a service the plan deploys
publishes a message some consumer's work queue (or its binding) is not
there for: those messages would be lost. An environment without a broker
has no such gate. A broker that cannot be asked refuses too: the gate
cannot tell, and a lost message cannot be taken back.

(``release.gates.rollout_gates`` collects it; this module imports from
``images`` only the seam's own types, inside the methods.)
"""

from __future__ import annotations

from typing import Any

from metarepo.manifest import Manifest
from metarepo.report import NULL, Reporter

from metarepo.broker.settings import BrokerSettings, broker_settings

_SHOWN = 5


def broker_gate(manifest: Manifest, env: str, raw_env: Any) -> "BrokerGate | None":
    """The gate for environment ``env`` (its ``.meta`` entry ``raw_env``), or None when it has no broker."""
    settings = broker_settings(env, raw_env)
    return None if settings is None else BrokerGate(manifest, settings)


class BrokerGate:
    name = "broker"

    def __init__(self, manifest: Manifest, settings: BrokerSettings, environ: Any = None) -> None:
        self.manifest, self.settings, self.environ = manifest, settings, environ

    def before(self, plan: Any) -> None:
        from metarepo.broker.fleet import load_broker_fleet, open_management

        deployed = {release.project for release in plan.releases}
        topology = load_broker_fleet(self.manifest, self.settings.environment, self.settings).topology
        sent = {p.message for p in topology.publishers if p.producer in deployed}
        needed = [r for r in topology.routes if r.message in sent]
        if not needed:
            return
        missing = lacking_routes(open_management(self.settings, self.environ), needed)
        if missing:
            producers = sorted({p.producer for p in topology.publishers if p.producer in deployed
                                and any(p.message == r.message for r, _ in missing)})
            shown = "; ".join(f"{r.queue} ({r.consumer}, {r.message.label}: {why})" for r, why in missing[:_SHOWN])
            more = f" (+{len(missing) - _SHOWN} more)" if len(missing) > _SHOWN else ""
            from metarepo.images.release import RolloutFailed

            raise RolloutFailed(f"broker: {', '.join(producers)} would publish to consumers whose queues are missing "
                             f"on {self.settings.environment}'s broker: {shown}{more}; nothing was changed",
                             hint=f"run `meta broker apply {self.settings.environment}` first")

    def after(self, release: Any, reporter: Reporter = NULL) -> Any:
        from metarepo.images.gates import Verdict

        return Verdict(True)


def lacking_routes(client: Any, routes: list[Any]) -> list[tuple[Any, str]]:
    """The routes whose work queue is not on the broker, or not bound there with its keys: (route, why)."""
    from metarepo.broker.live import read_live

    live = read_live(client)
    bound = live.bound()
    out = []
    for route in routes:
        if route.queue not in live.queues:
            out.append((route, "no queue"))
        elif not all((route.exchange, route.queue, key) in bound for key in route.keys):
            out.append((route, f"not bound to {route.exchange!r}"))
    return out
