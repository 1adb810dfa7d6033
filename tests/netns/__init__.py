"""Real Docker engines with real networking, each in a network namespace the suite makes and deletes.

The machines: ``wired_namespaces`` (namespaces.py) makes a "switch"
namespace with a bridge and one namespace per node, each with a veth
``eth0`` at 10.231.<n>.<i>/24; the switch itself is .254. The engines:
``Dockerd`` (dockerd.py) runs in a node's namespace through ``nsenter
--net`` with its own docker0, iptables and overlay networks, its hostname
the node's name, its socket and data under a temp dir on the host
filesystem. The clusters: ``running_cluster`` (cluster.py) starts one
engine per node, a docker-registry on the switch that every engine trusts,
and a swarm (node1 the manager, the others workers). Nothing touches the
host's own network namespace, and everything is gone afterwards (a
leftover raises).

The kernel here has no IPVS: no routing mesh, no VIPs. Services are
``endpoint_mode=dnsrr`` with host-mode published ports, and a proxy (HAProxy
or nginx, FROM scratch images made from the Debian packages, images.py)
runs as a swarm service on an attachable overlay network and finds the
tasks as ``tasks.<service>`` through the engine's embedded DNS
(services.py). Requests are sent from inside a namespace (probes.py): from
a node itself, or from the switch, which reaches every node as an outside
client would.

Fixtures (conftest.py): ``netns_engine`` and ``netns_swarm`` (session, a
``NetnsCluster`` of one and three nodes), ``netns_engine_images`` and
``netns_swarm_images`` (the test images in that cluster's registry),
``netns_engine_client`` and ``netns_swarm_client`` (per test: a client to
the manager; what the test created is removed afterwards). Under CI=true a
missing prerequisite fails with the package to install; otherwise the tests
skip with the reason (prerequisites.py).
"""
