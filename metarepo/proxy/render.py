"""``meta proxy render ENV``: the edge configuration for the fleet, from the manifest, validated.

The environment's ``proxy`` names the proxy; each deployed project's
``route`` is a backend. The file is rendered from
``ci-templates/proxy/<haproxy.cfg|nginx.conf|traefik.yml>.j2`` through
``metarepo.templating`` (the meta repo's override first, in the sandbox,
with the HAProxy or nginx dialect quoting every value), then checked by the
proxy's own checker when it is installed (``validate.py``). A refused file
is one ``ManifestError`` naming the template line that wrote it; nothing
is returned, so nothing is written.

docker-flow-proxy configures itself from the services' labels (which
``meta rollout`` writes), so it has no file of its own: ``--format`` picks
another proxy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metarepo.errors import ManifestError, UsageError, printable
from metarepo.proxy.settings import DOCKER_FLOW_PROXY, ProxySettings, Route, fleet_routes, proxy_of
from metarepo.templating.environment import OVERRIDE_DIR, Origin, template_origin
from metarepo.templating.escape import Dialect

if TYPE_CHECKING:
    from metarepo.manifest import Manifest

FORMATS = ("haproxy", "nginx", "traefik")
TEMPLATES = {"haproxy": ("proxy/haproxy.cfg.j2", Dialect.HAPROXY), "nginx": ("proxy/nginx.conf.j2", Dialect.NGINX),
             "traefik": ("proxy/traefik.yml.j2", Dialect.YAML)}


@dataclass(frozen=True)
class EdgeConfig:
    """One rendered, checked edge configuration."""

    environment: str
    format: str  # haproxy | nginx | traefik
    text: str
    routes: tuple[Route, ...]
    template: str
    origin: Origin
    validated_by: str | None  # what checked it ("haproxy -c"), None when the checker is not installed


def environment_proxy(manifest: Manifest, env: str) -> ProxySettings:
    """The proxy of environment ``env``; ``UsageError`` when it names none."""
    proxy = proxy_of(env, manifest.environment(env))
    if proxy is None:
        raise ManifestError("names no proxy", key=f"metarepo.environments.{env}.proxy",
                            hint="add \"proxy\": {\"kind\": \"haproxy\", \"network\": \"proxy\"} (see .meta.example)")
    return proxy


def edge_format(proxy: ProxySettings, format: str | None) -> str:
    """The format to render: ``format``, else the environment's proxy kind."""
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"unknown format {format!r} (one of {', '.join(FORMATS)})")
        return format
    if proxy.kind == DOCKER_FLOW_PROXY:
        raise UsageError(f"{proxy.environment}'s proxy is docker-flow-proxy, which configures itself from the "
                         "services' labels (`meta rollout` writes them)", hint="--format haproxy|nginx|traefik "
                         "renders another proxy's configuration")
    return proxy.kind


def render_edge(manifest: Manifest, env: str, format: str | None = None) -> EdgeConfig:
    """The edge configuration of ``env`` in ``format`` (default: its proxy's), rendered and checked."""
    from metarepo.proxy.edge import edge_values
    from metarepo.proxy.validate import check_rendered, problem_line
    from metarepo.templating.readback import Problem
    from metarepo.templating.render import invalid_render, render_template

    proxy = environment_proxy(manifest, env)
    chosen = edge_format(proxy, format)
    routes = fleet_routes(manifest.projects)
    template, dialect = TEMPLATES[chosen]
    origin = template_origin(manifest.root, template)
    body = render_template(manifest.root, template, dialect, edge_values(env, proxy, routes, format=chosen),
                           f"the {printable(env)} edge")
    text = (f"# Rendered by `meta proxy render {printable(env)}` from {OVERRIDE_DIR}/{template} ({origin.value}); "
            f"{len(routes)} route{'s' if len(routes) != 1 else ''}. Edit the routes in .meta, not this file.\n"
            + body)
    try:
        validated_by = check_rendered(chosen, text)
    except Problem as problem:
        raise invalid_render(manifest.root, template, f"the {printable(env)} edge ({chosen})", text,
                             problem_line(text, problem), problem.message) from None
    return EdgeConfig(env, chosen, text, routes, template, origin, validated_by)
