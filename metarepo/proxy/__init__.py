"""The edge proxy, from the manifest: each project's ``route``, the environment's ``proxy``.

- ``settings``: ``Route``, ``ProxySettings`` and their readers (``route_of``, ``exposed``,
  ``fleet_routes``, ``proxy_of``), every value checked once.
- ``labels``: the Swarm service labels Traefik and docker-flow-proxy read.
- ``edge``: the values the edge templates render with; ``render``: ``render_edge``, the
  HAProxy, nginx or Traefik configuration, validated by ``validate`` (the proxy's own checker).
- ``runtime``: HAProxy's runtime API; ``check``: drift between the rendered configuration and
  a file or a running HAProxy.
"""
