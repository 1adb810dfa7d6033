"""Which gates a rollout to an environment asks: collected from the capabilities that own them.

It sits in ``release/``, above ``images/`` and the capabilities whose gates it
collects (``monitor/`` for metric analysis and alerts, ``broker/`` for the
queues a producer needs), so every arrow points down: ``images`` defines the
seam (``images.gates``), the capabilities implement it, and ``meta rollout``
and release trains both get their gates here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from metarepo.images.gates import Gate
    from metarepo.manifest import Manifest


def rollout_gates(manifest: Manifest, env: str, settings: Mapping[str, Any] | None = None) -> Sequence[Gate]:
    """The gates environment ``env`` asks for, in the order they are asked (imported lazily: a rollout
    whose environment configures none loads none). A mistake in their settings is raised now."""
    from metarepo.broker.gate import broker_gate
    from metarepo.monitor.gate import analysis_gates  # metric analysis and alerts

    raw = manifest.environment(env) if settings is None else settings
    broker = broker_gate(manifest, env, raw)  # the pre-flight first: a missing queue refuses before any deploy
    return (*((broker,) if broker is not None else ()), *analysis_gates(manifest, env, raw))
