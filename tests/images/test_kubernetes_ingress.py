"""A routed service's Ingress on Kubernetes: rendered and validated with its Deployment, applied and put back with it.

Rendering is real (kubernetes-validate's strict schemas, a golden file for
the example fleet's orders service routed); kubectl is the fake at its
subprocess seam, as in test_kubernetes.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from metarepo.errors import ManifestError
from metarepo.images.kubernetes import LAST_APPLIED, KubernetesTarget
from metarepo.images.kubernetes_manifests import KUBERNETES_VERSION, manifest_stream, render_kubernetes
from metarepo.images.release import Action, RolloutFailed, environment_settings

from .fake_kubectl import FakeKubectl, recorded
from .test_kubernetes import GOLDEN, PREFIX, PROD, STATUS, UNDO, documents, fleet_settings, release
from .test_kubernetes import kubectl, meta_root  # noqa: F401 - the same fixtures

ROUTE = {"hosts": ["shop.acme.io", "www.acme.io"], "path": "/orders"}
PROXIED = {**PROD, "proxy": {"kind": "nginx", "ingress_class": "nginx"}}
GET = PREFIX + ["get", "deployment/orders", "service/orders", "ingress/orders", "-o", "json", "--ignore-not-found",
                "--request-timeout=30s"]
APPLY = PREFIX + ["apply", "-f", "-"]


def routed(settings, route=ROUTE, **project):
    return release(settings, settings={"route": route, **project})


def test_a_routed_service_renders_the_golden_ingress(meta_root: Path) -> None:
    settings = fleet_settings(proxy={"kind": "nginx", "ingress_class": "nginx"})
    manifests = render_kubernetes(meta_root, routed(settings), settings)
    assert [m.kind for m in manifests] == ["Service", "Deployment", "Ingress"]
    golden = GOLDEN / "orders-ingress.yaml"
    if os.environ.get("META_UPDATE_GOLDEN"):
        golden.write_text(manifests[2].text)
    assert manifests[2].text == golden.read_text(), f"rendering changed; see {golden}"
    document = yaml.safe_load(golden.read_text())
    assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION
    rules = document["spec"]["rules"]
    assert [r["host"] for r in rules] == ROUTE["hosts"] and document["spec"]["ingressClassName"] == "nginx"
    assert rules[0]["http"]["paths"] == [{"path": "/orders", "pathType": "Prefix", "backend": {
        "service": {"name": "orders", "port": {"name": "main"}}}}]
    unrouted = render_kubernetes(meta_root, release(settings), settings)
    assert [m.kind for m in unrouted] == ["Service", "Deployment"]


def test_a_route_for_any_host_is_one_rule_without_a_host(meta_root: Path) -> None:
    settings = fleet_settings()
    ingress = documents(render_kubernetes(meta_root, routed(settings, {"path": "/"}), settings))["Ingress"]
    assert ingress["spec"] == {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
        "service": {"name": "orders", "port": {"name": "main"}}}}]}}]}


@pytest.mark.parametrize("kind, path, annotations", [
    ("nginx", "/orders(/|$)(.*)", {"nginx.ingress.kubernetes.io/use-regex": "true",
                                   "nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
    ("haproxy", "/orders", {"haproxy.org/path-rewrite": "/orders/?(.*) /\\1"}),
])
def test_a_stripped_prefix_is_written_for_the_environments_controller(meta_root: Path, kind, path,
                                                                      annotations) -> None:
    settings = fleet_settings(proxy={"kind": kind})
    ingress = documents(render_kubernetes(meta_root, routed(settings, {**ROUTE, "strip": True}), settings))["Ingress"]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == path
    assert {k: v for k, v in ingress["metadata"]["annotations"].items() if k != "metarepo.io/project"} == annotations


def test_what_an_ingress_cannot_say_is_refused_naming_the_key(meta_root: Path) -> None:
    settings = fleet_settings(proxy={"kind": "traefik"})
    with pytest.raises(ManifestError, match=r"services/orders\.route\.strip: cannot strip /orders on Kubernetes "
                                            r"with traefik"):
        render_kubernetes(meta_root, routed(settings, {**ROUTE, "strip": True}), settings)
    with pytest.raises(ManifestError, match=r"services/orders\.route\.port: port 9000 is not the Service's port 8080"):
        render_kubernetes(meta_root, routed(settings, {**ROUTE, "port": 9000}, port=8080), settings)
    service = documents(render_kubernetes(meta_root, routed(settings, {**ROUTE, "port": 9000}), settings))["Service"]
    assert service["spec"]["ports"][0]["port"] == 9000  # the route's port is the Service's when `port` is unset


def test_an_override_sending_the_ingress_elsewhere_is_refused(meta_root: Path) -> None:
    folder = meta_root / "ci-templates" / "kubernetes"
    folder.mkdir(parents=True)
    builtin = (Path(__file__).resolve().parents[2] / "metarepo/ci_templates/kubernetes/ingress.yaml.j2").read_text()
    (folder / "ingress.yaml.j2").write_text(builtin.replace("name: {{ name }}\n                port:",
                                                            "name: other\n                port:"))
    settings = fleet_settings()
    with pytest.raises(ManifestError, match=r"the Ingress sends /orders to service 'other', not to 'orders'"):
        render_kubernetes(meta_root, routed(settings), settings)


# -- applied and put back with the Deployment -------------------------------------


@pytest.fixture
def target(meta_root: Path) -> KubernetesTarget:
    return KubernetesTarget(environment_settings("production", PROXIED), meta_root)


def prod_routed():
    return routed(environment_settings("production", PROXIED))


def test_a_new_routed_service_applies_its_ingress_and_a_failure_deletes_all_three(kubectl: FakeKubectl,
                                                                                  target) -> None:
    created = recorded("apply-created.out") + "ingress.networking.k8s.io/orders created\n"
    kubectl.reply("get").reply("apply", out=created) \
        .reply("rollout", "status", out=recorded("status-deadline.out"), err=recorded("status-deadline.err"), rc=1) \
        .reply("delete", out=recorded("delete.out") + 'ingress.networking.k8s.io "orders" deleted\n')
    with pytest.raises(RolloutFailed, match=r"removed deployment/orders and service/orders and ingress/orders "
                                            r"\(created by this rollout\)"):
        target.deploy(prod_routed())
    assert kubectl.argvs == [GET, APPLY, STATUS,
                             PREFIX + ["delete", "deployment/orders", "service/orders", "ingress/orders",
                                       "--ignore-not-found"]]
    applied = kubectl.calls[1]["stdin"]
    assert applied == manifest_stream(target.manifests(prod_routed()))
    assert [d["kind"] for d in yaml.safe_load_all(applied)] == ["Service", "Deployment", "Ingress"]


def _live_with_an_older_ingress(target) -> tuple[str, str]:
    """The recorded Deployment and Service, and the Ingress last applied for one host fewer."""
    live = json.loads(recorded("get-existing.json"))
    ingress = next(m.document for m in target.manifests(prod_routed()) if m.kind == "Ingress")
    before = json.loads(json.dumps(ingress))
    before["spec"]["rules"] = before["spec"]["rules"][:1]
    text = json.dumps(before)
    live["items"].append({**before, "metadata": {**before["metadata"], "namespace": "shop",
                                                 "annotations": {**before["metadata"]["annotations"],
                                                                 LAST_APPLIED: text}}})
    return json.dumps(live), text


def test_a_failed_update_puts_a_changed_ingress_back_as_it_was_applied(kubectl: FakeKubectl, target) -> None:
    live, before = _live_with_an_older_ingress(target)
    kubectl.reply("get", out=live).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-deadline.out"), err=recorded("status-deadline.err"), rc=1) \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("apply", out="ingress.networking.k8s.io/orders configured\n")
    with pytest.raises(RolloutFailed) as caught:
        target.deploy(prod_routed())
    assert kubectl.argvs == [GET, APPLY, STATUS, UNDO, STATUS, APPLY]
    assert kubectl.calls[5]["stdin"] == before  # the Ingress's own last apply: one host
    assert str(caught.value).endswith("rolled back to revision 3; ingress/orders put back as it was")


# -- a route removed from .meta: the Ingress metarepo applied for it goes ---------------------


def unrouted():
    return release(environment_settings("production", PROXIED))


def _live_as_applied(target, *, ingress_project: str = "services/orders") -> tuple[str, str]:
    """The cluster running exactly what the unrouted release renders, plus the routed release's Ingress, as
    `kubectl apply` left it (its project annotation set to ``ingress_project``)."""
    live = json.loads(recorded("get-existing.json"))
    for item, manifest in zip(live["items"], reversed(target.manifests(unrouted()))):
        item["metadata"]["annotations"][LAST_APPLIED] = json.dumps(manifest.document)
    ingress = json.loads(json.dumps(next(m.document for m in target.manifests(prod_routed()) if m.kind == "Ingress")))
    ingress["metadata"]["annotations"]["metarepo.io/project"] = ingress_project
    text = json.dumps(ingress)
    live["items"].append({**ingress, "metadata": {**ingress["metadata"], "namespace": "shop",
                                                  "annotations": {**ingress["metadata"]["annotations"],
                                                                  LAST_APPLIED: text}}})
    return json.dumps(live), text


DELETE_INGRESS = PREFIX + ["delete", "ingress/orders", "--ignore-not-found"]


def test_a_removed_route_deletes_its_ingress_and_a_rollback_applies_it_again(kubectl: FakeKubectl, target) -> None:
    live, before = _live_as_applied(target)
    kubectl.reply("get", out=live)
    assert target.preview(unrouted()).action is Action.UPDATE  # the Deployment and Service alone are unchanged
    kubectl.reply("get", out=live).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("delete", out='ingress.networking.k8s.io "orders" deleted\n')
    applied = target.deploy(unrouted())
    assert applied.changed and applied.note.endswith("; removed ingress/orders (no route any more)")
    assert kubectl.argvs[1:] == [GET, APPLY, STATUS, DELETE_INGRESS]  # after the preview's own get
    assert [d["kind"] for d in yaml.safe_load_all(kubectl.calls[2]["stdin"])] == ["Service", "Deployment"]

    # a later service of the batch fails: this one goes back, its Ingress with it
    kubectl.reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("apply", out="ingress.networking.k8s.io/orders created\n")
    assert target.roll_back(applied) == "rolled back to revision 3; ingress/orders put back as it was"
    assert kubectl.argvs[-3:] == [UNDO, STATUS, APPLY] and kubectl.calls[-1]["stdin"] == before


def test_an_ingress_that_is_not_this_projects_is_left_alone(kubectl: FakeKubectl, target) -> None:
    live, _ = _live_as_applied(target, ingress_project="services/someone-else")
    kubectl.reply("get", out=live).reply("rollout", "status", out=recorded("status-ok.out"))
    applied = target.deploy(unrouted())
    assert (applied.changed, applied.note) == (False, "unchanged")
    assert kubectl.argvs == [GET, STATUS]


def test_an_ingress_that_cannot_be_removed_puts_the_release_back(kubectl: FakeKubectl, target) -> None:
    live, before = _live_as_applied(target)
    kubectl.reply("get", out=live).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("delete", rc=1, err='Error from server (Forbidden): ingresses.networking.k8s.io "orders" is '
                                    'forbidden: User "ci" cannot delete resource "ingresses"\n') \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("apply", out="ingress.networking.k8s.io/orders unchanged\n")
    with pytest.raises(RolloutFailed) as caught:
        target.deploy(unrouted())
    assert str(caught.value).startswith("orders: could not remove ingress/orders, which its route no longer declares: "
                                        "Error from server (Forbidden)")
    assert str(caught.value).endswith("; rolled back to revision 3; ingress/orders put back as it was")
    assert kubectl.argvs == [GET, APPLY, STATUS, DELETE_INGRESS, UNDO, STATUS, APPLY]
    assert target.in_flight is None
