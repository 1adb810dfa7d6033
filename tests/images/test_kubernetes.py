"""The Kubernetes target: manifests rendered and validated for real, kubectl faked at its subprocess seam.

Rendering is real Jinja over the shipped templates, validated with
kubernetes-validate's strict schemas, and compared with golden files for the
example fleet's orders service (regenerate after an intended template change
with ``META_UPDATE_GOLDEN=1 pytest tests/images/test_kubernetes.py`` and
review the diff). No cluster can be reached from these machines, so kubectl
is a fake on PATH answering with recorded kubectl output (see
``fake_kubectl.py``); the tests assert the exact calls, their order, and
what went over standard input.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from metarepo.images.kubernetes_manifests import KUBERNETES_VERSION, manifest_stream, render_kubernetes, schema_validator
from metarepo.errors import EngineUnavailable, ManifestError
from metarepo.images.kubernetes import LAST_APPLIED, KubernetesTarget
from metarepo.images.release import (Action, Applied, Healthcheck, Release, RolloutFailed, Unknown,
                                     environment_settings)
from metarepo.templating.environment import Origin

from tests.conftest import git

from .fake_kubectl import FakeKubectl, recorded

FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet"
GOLDEN = Path(__file__).parent / "golden"
SHA = "8c2f4e1a9b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e"
DIGEST = "sha256:" + "3b" * 32
PROD = {"target": "kubernetes", "context": "prod-cluster", "namespace": "shop", "replicas": 3, "timeout": 600}


def fleet_healthcheck(service: str) -> Healthcheck:
    """The HEALTHCHECK of the example fleet's Dockerfile, as the image would report it."""
    line = next(l for l in (FLEET / service / "Dockerfile").read_text().splitlines() if l.startswith("HEALTHCHECK"))
    options = dict(re.findall(r"--([a-z-]+)=(\S+)", line))
    command = json.loads(line.split(" CMD ", 1)[1])
    return Healthcheck(("CMD", *command), interval=float(options["interval"].rstrip("s")),
                       timeout=float(options["timeout"].rstrip("s")), retries=int(options["retries"]))


def fleet_settings(name: str = "production", **changes):
    raw = dict(json.loads((FLEET / "meta.json").read_text())["metarepo"]["environments"][name])
    raw.update(changes)
    return environment_settings(name, raw)


def release(env, **changes) -> Release:
    registry = json.loads((FLEET / "meta.json").read_text())["metarepo"]["defaults"]["registry"]
    base = dict(project="services/orders", service="orders", image=f"{registry}/orders:{SHA}", sha=SHA,
                version=None, replicas=env.replicas, update=env.update, timeout=env.timeout,
                digest=DIGEST, healthcheck=fleet_healthcheck("orders"))
    base.update(changes)
    return Release(**base)


@pytest.fixture
def meta_root(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    root.mkdir()
    return root


def documents(manifests) -> dict[str, dict]:
    return {m.kind: yaml.safe_load(m.text) for m in manifests}


def override(root: Path, name: str, text: str) -> None:
    path = root / "ci-templates" / "kubernetes" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# -- rendering, validated for real ------------------------------------------------


def test_the_example_fleets_orders_service_renders_the_golden_manifests(meta_root: Path) -> None:
    settings = fleet_settings()
    manifests = render_kubernetes(meta_root, release(settings), settings)
    assert [(m.kind, m.name, m.origin) for m in manifests] == [("Service", "orders", Origin.BUILTIN),
                                                              ("Deployment", "orders", Origin.BUILTIN)]
    for manifest in manifests:
        golden = GOLDEN / f"orders-{manifest.kind.lower()}.yaml"
        if os.environ.get("META_UPDATE_GOLDEN"):
            golden.write_text(manifest.text)
        assert manifest.text == golden.read_text(), f"rendering changed; see {golden}"


@pytest.mark.parametrize("name", ["orders-deployment.yaml", "orders-service.yaml"])
def test_the_golden_manifests_pass_kubernetes_validate_strict(name: str) -> None:
    document = yaml.safe_load((GOLDEN / name).read_text())
    assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION
    spoiled = json.loads(json.dumps(document))
    spoiled["spec"]["replica"] = 2  # a typo strict mode must refuse
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(spoiled, KUBERNETES_VERSION, strict=True)


def test_the_cached_validator_agrees_with_kubernetes_validate() -> None:
    import jsonschema

    good = yaml.safe_load((GOLDEN / "orders-deployment.yaml").read_text())
    cases = [good]
    for spoil in (lambda d: d["spec"].update(replicas="two"),
                  lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicy=3),
                  lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].update(exce={}),
                  lambda d: d["metadata"].pop("name") and d.pop("spec")):
        bad = json.loads(json.dumps(good))
        spoil(bad)
        cases.append(bad)
    for document in cases:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
            theirs = None
        except kubernetes_validate.ValidationError as exc:
            theirs = (list(exc.absolute_path), exc.message)
        error = jsonschema.exceptions.best_match(
            schema_validator(KUBERNETES_VERSION, "Deployment", "apps/v1").iter_errors(document))
        ours = None if error is None else (list(error.absolute_path), error.message)
        assert ours == theirs
    assert [c is good for c in cases].count(True) == 1


def test_update_order_and_timeouts_become_the_rolling_update(meta_root: Path) -> None:
    settings = fleet_settings(update={"order": "stop-first", "parallelism": 2, "monitor": 12.5}, timeout=90)
    deployment = documents(render_kubernetes(meta_root, release(settings), settings))["Deployment"]["spec"]
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "maxSurge": 0}}
    assert (deployment["minReadySeconds"], deployment["progressDeadlineSeconds"]) == (13, 90)
    settings = fleet_settings(update={"order": "start-first", "parallelism": 3})
    deployment = documents(render_kubernetes(meta_root, release(settings), settings))["Deployment"]["spec"]
    assert deployment["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 3}


def test_a_monitor_window_longer_than_the_timeout_is_refused(meta_root: Path) -> None:
    settings = fleet_settings(update={"monitor": 120}, timeout=60)
    with pytest.raises(ManifestError, match=r"progressDeadlineSeconds \(60\) must be greater than "
                                            r"minReadySeconds \(120\)"):
        render_kubernetes(meta_root, release(settings), settings)


def test_probe_port_namespace_and_labels(meta_root: Path) -> None:
    settings = environment_settings("production", PROD)
    shell = Healthcheck(("CMD-SHELL", "wget -q -O- http://127.0.0.1:9000/health || exit 1"), interval=5,
                        timeout=1.5, retries=4, start_period=20)
    docs = documents(render_kubernetes(meta_root, release(settings, healthcheck=shell, port=9000,
                                                          version="1.4.2"), settings))
    pod = docs["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == f"127.0.0.1:5000/demo/orders:{SHA}@{DIGEST}"
    assert container["readinessProbe"] == {
        "exec": {"command": ["/bin/sh", "-c", "wget -q -O- http://127.0.0.1:9000/health || exit 1"]},
        "initialDelaySeconds": 20, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 4}
    assert container["ports"] == [{"name": "main", "containerPort": 9000, "protocol": "TCP"}]
    assert docs["Service"]["spec"]["ports"] == [{"name": "main", "port": 9000, "targetPort": "main",
                                                 "protocol": "TCP"}]
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"shop"}
    assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == "1.4.2"
    assert pod["metadata"]["labels"]["metarepo.io/sha"] == SHA
    assert docs["Deployment"]["metadata"]["annotations"]["metarepo.io/project"] == "services/orders"
    assert "metarepo.io/project" not in pod["metadata"]["labels"]  # a folder is no label value

    # No HEALTHCHECK: a TCP probe on a declared port; nothing declared: no probe, the Service on 8080.
    docs = documents(render_kubernetes(meta_root, release(settings, healthcheck=None, port=9000), settings))
    assert docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["tcpSocket"] == \
        {"port": "main"}
    docs = documents(render_kubernetes(meta_root, release(settings, healthcheck=None, settings={}), settings))
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "readinessProbe" not in container and docs["Service"]["spec"]["ports"][0]["port"] == 8080
    # The project's `port` setting counts when the release does not carry one.
    docs = documents(render_kubernetes(meta_root, release(settings, settings={"port": 7000}), settings))
    assert docs["Service"]["spec"]["ports"][0]["port"] == 7000


def test_values_with_quotes_and_colons_stay_one_value(meta_root: Path) -> None:
    settings = environment_settings("production", PROD)
    hostile_version = "1.0: \"beta\" # it's\n- evil: true"
    hostile_project = "services/we:ird 'name'"
    check = Healthcheck(("CMD", "sh", "-c", 'echo "a: b" # c', "--flag='x'"))
    manifests = render_kubernetes(meta_root, release(settings, version=hostile_version, project=hostile_project,
                                                     healthcheck=check), settings)
    docs = documents(manifests)
    deployment = docs["Deployment"]
    assert deployment["metadata"]["annotations"]["metarepo.io/version"] == hostile_version
    assert deployment["metadata"]["annotations"]["metarepo.io/project"] == hostile_project
    assert "app.kubernetes.io/version" not in deployment["metadata"]["labels"]  # not a valid label value
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["exec"]["command"] == ["sh", "-c", 'echo "a: b" # c', "--flag='x'"]
    clean = documents(render_kubernetes(meta_root, release(settings), settings))
    assert set(deployment) == set(clean["Deployment"]) and set(deployment["spec"]) == set(clean["Deployment"]["spec"])


def test_an_override_replaces_one_block_and_keeps_the_rest(meta_root: Path) -> None:
    settings = fleet_settings()
    override(meta_root, "deployment.yaml.j2", """{% extends "builtin/kubernetes/deployment.yaml.j2" %}
{% block resources %}
          resources:
            limits:
              memory: {{ vars_memory | default("256Mi") }}
{% endblock %}
""")
    service, deployment = render_kubernetes(meta_root, release(settings), settings)
    assert (service.origin, deployment.origin) == (Origin.BUILTIN, Origin.META_REPO)
    assert "ci-templates/kubernetes/deployment.yaml.j2 (meta repo)" in deployment.text.splitlines()[0]
    container = yaml.safe_load(deployment.text)["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"limits": {"memory": "256Mi"}}
    golden = (GOLDEN / "orders-deployment.yaml").read_text().splitlines()[1:]
    assert deployment.text.splitlines()[1:len(golden) + 1] == golden  # the rest unchanged


def test_an_invalid_override_fails_naming_the_template_and_line(meta_root: Path) -> None:
    settings = fleet_settings()
    override(meta_root, "deployment.yaml.j2", """{% extends "builtin/kubernetes/deployment.yaml.j2" %}
{% block resources %}
          resourcez:
            limits: {}
{% endblock %}
""")
    with pytest.raises(ManifestError) as caught:
        render_kubernetes(meta_root, release(settings), settings)
    message = str(caught.value)
    assert message.startswith(f"{meta_root}/ci-templates/kubernetes/deployment.yaml.j2:3: rendered for "
                              "services/orders as deployment.yaml, line ")
    assert ("Kubernetes 1.30 schema (strict): at spec.template.spec.containers.0.resourcez: Additional "
            "properties are not allowed ('resourcez' was unexpected) [resourcez:]") in message
    assert "\n" not in message


ESCAPE = """{{% extends "builtin/kubernetes/deployment.yaml.j2" %}}
{{% block resources %}}
          resources: {{{{ lipsum.__globals__["os"].system({command!r}) }}}}
{{% endblock %}}
"""


def test_an_override_escaping_the_sandbox_is_refused_naming_it(meta_root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    settings = fleet_settings()
    override(meta_root, "deployment.yaml.j2", ESCAPE.format(command=f"touch {marker}"))
    with pytest.raises(ManifestError) as caught:
        render_kubernetes(meta_root, release(settings), settings)
    assert str(caught.value) == (
        f"{meta_root}/ci-templates/kubernetes/deployment.yaml.j2:3: refused while rendering for services/orders: "
        "access to attribute '__globals__' of a function value is unsafe (templates render in a sandbox: values, "
        "filters and tests only, no Python internals)")
    assert not marker.exists()


def test_meta_rollout_dry_run_with_an_escaping_override_is_one_line(workspace: Path, meta, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    override(workspace, "deployment.yaml.j2", ESCAPE.format(command=f"touch {marker}"))
    proc = meta("rollout", "production", "--include-only", "orders", "--dry-run", cwd=workspace,
                env={"DOCKER_HOST": "unix:///nonexistent/metarepo-test.sock", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"meta: {workspace}/ci-templates/kubernetes/deployment.yaml.j2:3: refused while rendering for "
        "services/orders: access to attribute '__globals__' of a function value is unsafe (templates render in a "
        "sandbox: values, filters and tests only, no Python internals)"]
    assert proc.stdout == "" and not marker.exists() and not (workspace / "environments").exists()


def test_broken_yaml_and_bad_labels_from_an_override_are_refused(meta_root: Path) -> None:
    settings = fleet_settings()
    override(meta_root, "service.yaml.j2", """{% extends "builtin/kubernetes/service.yaml.j2" %}
{% block labels %}
    team: {{ project }}
{% endblock %}
""")
    with pytest.raises(ManifestError, match=r"service.yaml.j2: rendered for services/orders as service.yaml, "
                                            r"line 7: 'services/orders' is not a valid label value"):
        render_kubernetes(meta_root, release(settings), settings)
    override(meta_root, "service.yaml.j2", """{% extends "builtin/kubernetes/service.yaml.j2" %}
{% block ports %}
  ports:
    - name: main
     port: 80
{% endblock %}
""")
    with pytest.raises(ManifestError, match=r"line \d+: not valid YAML"):
        render_kubernetes(meta_root, release(settings), settings)
    override(meta_root, "service.yaml.j2", """{% extends "builtin/kubernetes/service.yaml.j2" %}
{% block ports %}
  ports:
    - port: 80
      targetPort: http
{% endblock %}
""")
    with pytest.raises(ManifestError, match="the Service's targetPort 'http' names no port of the pods"):
        render_kubernetes(meta_root, release(settings), settings)


@pytest.mark.parametrize("raw, changes, key", [
    ({"namespace": "Shop_1"}, {}, "metarepo.environments.production.namespace"),
    ({"kubernetes_version": "1.12"}, {}, "metarepo.environments.production.kubernetes_version"),
    ({}, {"port": 70000}, "metarepo.projects.services/orders.port"),
    ({}, {"settings": {"port": "http"}}, "metarepo.projects.services/orders.port"),
    ({}, {"service": "2fa"}, "metarepo.projects.services/orders.service"),
])
def test_bad_settings_name_their_key(meta_root: Path, raw, changes, key) -> None:
    settings = fleet_settings(**raw)
    with pytest.raises(ManifestError, match=re.escape(key)):
        render_kubernetes(meta_root, release(settings, **changes), settings)


def test_another_kubernetes_version_can_be_chosen(meta_root: Path) -> None:
    settings = fleet_settings(kubernetes_version="1.33")
    assert len(render_kubernetes(meta_root, release(settings), settings)) == 2


def test_the_documented_example_renders(meta_root: Path) -> None:
    example = json.loads((Path(__file__).resolve().parents[2] / ".meta.example").read_text())["metarepo"]
    settings = environment_settings("production", example["environments"]["production"])
    project = example["projects"]["services/orders"]
    docs = documents(render_kubernetes(meta_root, release(settings, settings=project), settings))
    assert docs["Service"]["spec"]["ports"][0]["port"] == project["port"]
    assert docs["Deployment"]["metadata"]["namespace"] == "shop"


# -- the kubectl sequence, at the subprocess seam ---------------------------------

PREFIX = ["--context", "prod-cluster", "--namespace", "shop"]
GET = PREFIX + ["get", "deployment/orders", "service/orders", "ingress/orders", "-o", "json", "--ignore-not-found",
                "--request-timeout=30s"]
APPLY = PREFIX + ["apply", "-f", "-"]
STATUS = PREFIX + ["rollout", "status", "deployment/orders", "--timeout=600s"]
UNDO = PREFIX + ["rollout", "undo", "deployment/orders", "--to-revision=3"]
DELETE = PREFIX + ["delete", "deployment/orders", "service/orders", "--ignore-not-found"]


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch) -> FakeKubectl:
    return FakeKubectl(tmp_path, monkeypatch)


@pytest.fixture
def target(meta_root: Path) -> KubernetesTarget:
    return KubernetesTarget(environment_settings("production", PROD), meta_root)


def prod_release() -> Release:
    return release(environment_settings("production", PROD))


def test_a_new_service_is_applied_from_stdin_then_waited_for(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get").reply("apply", out=recorded("apply-created.out")) \
        .reply("rollout", "status", out=recorded("status-ok.out"))
    applied = target.deploy(prod_release())
    assert kubectl.argvs == [GET, APPLY, STATUS]
    calls = kubectl.calls
    assert calls[1]["stdin"] == manifest_stream(target.manifests(prod_release()))
    assert [d["kind"] for d in yaml.safe_load_all(calls[1]["stdin"])] == ["Service", "Deployment"]
    assert calls[0]["stdin"] == calls[2]["stdin"] == ""
    assert (applied.created, applied.changed, applied.previous["revision"]) == (True, True, None)
    assert applied.note == 'deployment "orders" successfully rolled out'


def test_a_failed_update_is_undone_to_the_recorded_revision(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get", out=recorded("get-existing.json")).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-deadline.out"), err=recorded("status-deadline.err"), rc=1) \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out"))
    with pytest.raises(RolloutFailed) as caught:
        target.deploy(prod_release())
    assert kubectl.argvs == [GET, APPLY, STATUS, UNDO, STATUS]
    assert str(caught.value) == 'orders: error: deployment "orders" exceeded its progress deadline; ' \
                                "rolled back to revision 3"


def test_a_failed_new_service_is_deleted(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get").reply("apply", out=recorded("apply-created.out")) \
        .reply("rollout", "status", out=recorded("status-deadline.out"), err=recorded("status-deadline.err"), rc=1) \
        .reply("delete", out=recorded("delete.out"))
    with pytest.raises(RolloutFailed, match=r"exceeded its progress deadline; removed deployment/orders and "
                                            r"service/orders \(created by this rollout\)"):
        target.deploy(prod_release())
    assert kubectl.argvs == [GET, APPLY, STATUS, DELETE]


def test_a_refused_apply_is_reported_with_kubectls_line(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get", out=recorded("get-existing.json")) \
        .reply("apply", err=recorded("apply-immutable.err"), rc=1) \
        .reply("rollout", "undo", out="deployment.apps/orders skipped rollback (current template already "
                                      "matches revision 3)\n") \
        .reply("rollout", "status", out=recorded("status-ok.out"))
    with pytest.raises(RolloutFailed) as caught:
        target.deploy(prod_release())
    assert kubectl.argvs == [GET, APPLY, UNDO, STATUS]
    assert str(caught.value).startswith('orders: kubectl apply failed: The Deployment "orders" is invalid: '
                                        "spec.selector: Invalid value")
    assert str(caught.value).endswith("field is immutable; rolled back to revision 3 (it was still running)")


def test_roll_back_after_a_good_update_goes_to_the_previous_revision(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get", out=recorded("get-existing.json")).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out"))
    applied = target.deploy(prod_release())
    assert (applied.created, applied.changed, applied.previous["revision"]) == (False, True, "3")
    assert target.roll_back(applied) == "rolled back to revision 3"
    assert kubectl.argvs == [GET, APPLY, STATUS, UNDO, STATUS]


def live_with_an_older_service(port: int | None) -> tuple[str, str | None]:
    """The recorded live objects, their Service last applied with another port (None: never applied)."""
    live = json.loads(recorded("get-existing.json"))
    service = live["items"][1]["metadata"]["annotations"]
    if port is None:
        del service[LAST_APPLIED]
        return json.dumps(live), None
    before = json.loads(service[LAST_APPLIED])
    before["spec"]["ports"][0]["port"] = port
    service[LAST_APPLIED] = json.dumps(before)
    return json.dumps(live), service[LAST_APPLIED]


def test_a_failed_update_puts_a_changed_service_back_as_it_was_applied(kubectl: FakeKubectl, target) -> None:
    live, before = live_with_an_older_service(9090)
    kubectl.reply("get", out=live).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-deadline.out"), err=recorded("status-deadline.err"), rc=1) \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("apply", out="service/orders configured\n")
    with pytest.raises(RolloutFailed) as caught:
        target.deploy(prod_release())
    assert kubectl.argvs == [GET, APPLY, STATUS, UNDO, STATUS, APPLY]
    assert kubectl.calls[5]["stdin"] == before  # the Service's own last apply, port 9090 and all
    assert str(caught.value).endswith("rolled back to revision 3; service/orders put back as it was")


def test_roll_back_puts_a_changed_service_back_or_says_it_cannot(kubectl: FakeKubectl, target) -> None:
    live, before = live_with_an_older_service(9090)
    kubectl.reply("get", out=live).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("apply", out="service/orders configured\n")
    applied = target.deploy(prod_release())
    assert target.roll_back(applied) == "rolled back to revision 3; service/orders put back as it was"
    assert kubectl.calls[-1]["stdin"] == before

    live, _ = live_with_an_older_service(None)  # made by hand (`kubectl create`): nothing recorded to go back to
    kubectl.reply("get", out=live).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out"))
    applied = target.deploy(prod_release())
    assert target.roll_back(applied) == ("rolled back to revision 3; service/orders was changed and had no earlier "
                                         "`kubectl apply` to go back to: left as it is")
    assert kubectl.argvs[-1] == STATUS  # nothing applied after the undo


def test_roll_back_of_a_created_service_deletes_it(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("delete", out=recorded("delete.out"))
    applied = Applied(prod_release(), created=True, previous={"revision": None, "service_existed": False})
    assert target.roll_back(applied) == "removed deployment/orders and service/orders (created by this rollout)"
    assert kubectl.argvs == [DELETE]
    kubectl.reply("rollout", "undo", rc=1, err="error: unable to find specified revision 3 in history\n")
    applied = Applied(prod_release(), created=False, previous={"revision": "3", "service_existed": True})
    with pytest.raises(RolloutFailed, match="rollout undo failed: error: unable to find specified revision 3"):
        target.roll_back(applied)


def test_an_unchanged_service_is_not_applied(kubectl: FakeKubectl, target) -> None:
    live = json.loads(recorded("get-existing.json"))
    for item, manifest in zip(live["items"], reversed(target.manifests(prod_release()))):
        applied = {**manifest.document, "metadata": {**manifest.document["metadata"], "namespace": "shop"}}
        item["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(applied)
    kubectl.reply("get", out=json.dumps(live)).reply("rollout", "status", out=recorded("status-ok.out"))
    applied = target.deploy(prod_release())
    assert (applied.changed, applied.note) == (False, "unchanged")
    assert kubectl.argvs == [GET, STATUS]
    assert target.roll_back(applied) == "unchanged: nothing to roll back"
    assert len(kubectl.argvs) == 2


def test_preview_asks_the_cluster_and_changes_nothing(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get", out=recorded("get-existing.json"))
    preview = target.preview(prod_release())
    assert (preview.action, preview.not_known) == (Action.UPDATE, ())
    assert preview.detail == manifest_stream(target.manifests(prod_release()))
    assert kubectl.argvs == [GET[:-1] + ["--request-timeout=10s"]]
    kubectl.reply("get")
    assert target.preview(prod_release()).action is Action.CREATE
    kubectl.reply("get", err=recorded("get-unreachable.err"), rc=1)
    preview = target.preview(prod_release())
    assert (preview.action, preview.not_known) == (Action.UNKNOWN, ((Unknown.EXISTS, (
        "cannot reach the Kubernetes cluster: Unable to connect to the server: dial tcp: lookup prod-cluster.acme.io "
        "on 127.0.0.53:53: no such host")),))
    assert preview.detail == manifest_stream(target.manifests(prod_release()))  # what it would apply, still
    assert [argv[4] for argv in kubectl.argvs] == ["get", "get", "get"]


def test_an_unreachable_cluster_is_one_clear_line(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get", err=recorded("get-unreachable.err"), rc=1)
    with pytest.raises(EngineUnavailable) as caught:
        target.deploy(prod_release())
    assert str(caught.value).startswith("cannot reach the Kubernetes cluster: Unable to connect to the server")
    assert "set `context` for production" in str(caught.value)
    assert kubectl.argvs == [GET]


def test_kubectl_missing_from_path(tmp_path: Path, monkeypatch, target) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    preview = target.preview(prod_release())
    assert (preview.action, preview.not_known) == (Action.UNKNOWN, ((Unknown.EXISTS, "kubectl not found"),))
    with pytest.raises(EngineUnavailable, match=r"kubectl not found .*install kubectl and set `context` for "
                                                r"production"):
        target.deploy(prod_release())


def test_an_invalid_manifest_never_reaches_kubectl(kubectl: FakeKubectl, meta_root: Path, target) -> None:
    override(meta_root, "deployment.yaml.j2", '{% extends "builtin/kubernetes/deployment.yaml.j2" %}\n'
                                              "{% block strategy %}\n  minReadySeconds: ten\n{% endblock %}\n")
    with pytest.raises(ManifestError, match=r"deployment.yaml.j2:3: .*at spec.minReadySeconds: 'ten' is not of type"):
        target.deploy(prod_release())
    assert kubectl.calls == []


def test_a_kubectl_that_hangs_is_ended_by_its_timeout(kubectl: FakeKubectl, target) -> None:
    kubectl.reply("get", sleep=30)
    with pytest.raises(RolloutFailed, match=r"`kubectl get deployment/orders` did not finish within 0.5s"):
        target.kubectl("get", "deployment/orders", timeout=0.5)


def test_ctrl_c_during_the_rollout_puts_it_back(kubectl: FakeKubectl, target, meta_root: Path) -> None:
    from metarepo.images.rollout import RolloutPlan, StepState, run_rollout

    kubectl.reply("get", out=recorded("get-existing.json")).reply("apply", out=recorded("apply-configured.out")) \
        .reply("rollout", "status", sleep=30, interrupt=True) \
        .reply("rollout", "undo", out=recorded("undo.out")).reply("rollout", "status", out=recorded("status-ok.out"))
    notes = []
    target.reporter = type("Notes", (), {"note": lambda self, line: notes.append(line)})()
    plan = RolloutPlan(environment_settings("production", PROD), (prod_release(),), {}, "manifest")
    result = run_rollout(None, plan, target)
    assert result.interrupted and not result.ok
    assert [(s.service, s.state) for s in result.steps] == [("orders", StepState.ROLLED_BACK)]
    assert result.steps[0].detail == "interrupted; rolled back to revision 3"
    assert kubectl.argvs == [GET, APPLY, STATUS, UNDO, STATUS]  # the interrupted apply was undone, by revision
    assert notes[-1] == ("orders: interrupted after `kubectl apply`; to put it back by hand: kubectl --context "
                         "prod-cluster --namespace shop rollout undo deployment/orders --to-revision=3")
    with pytest.raises(ProcessLookupError):  # the waiting kubectl was ended, not left running
        os.kill(kubectl.pid(2), 0)



def test_meta_rollout_to_kubernetes_rolls_the_batch_back_through_kubectl(workspace: Path, kubectl: FakeKubectl,
                                                                         meta) -> None:
    created = recorded("apply-created.out")
    kubectl.reply("get").reply("apply", out=created).reply("rollout", "status", out=recorded("status-ok.out")) \
        .reply("get").reply("apply", out=created.replace("orders", "billing")) \
        .reply("rollout", "status", out=recorded("status-deadline.out").replace("orders", "billing"),
               err=recorded("status-deadline.err").replace("orders", "billing"), rc=1) \
        .reply("delete", out=recorded("delete.out").replace("orders", "billing")) \
        .reply("delete", out=recorded("delete.out"))
    proc = meta("rollout", "production", "--include-only", "orders,billing", "--json", cwd=workspace,
                env={"DOCKER_HOST": "unix:///nonexistent/metarepo-test.sock"})
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["target"] == "kubernetes"
    steps = {s["service"]: s for s in doc["services"]}
    assert steps["orders"]["state"] == "rolled back"
    assert steps["orders"]["detail"] == "removed deployment/orders and service/orders (created by this rollout)"
    assert steps["billing"]["state"] == "failed" and "exceeded its progress deadline" in steps["billing"]["detail"]
    assert [c["argv"][:2] for c in kubectl.calls] == [
        ["get", "deployment/orders"], ["apply", "-f"], ["rollout", "status"],
        ["get", "deployment/billing"], ["apply", "-f"], ["rollout", "status"],
        ["delete", "deployment/billing"], ["delete", "deployment/orders"]]
    sha = git("rev-parse", "HEAD", cwd=workspace / "services/orders")
    assert f"127.0.0.1:5000/demo/orders:{sha}" in kubectl.calls[1]["stdin"]  # no engine to ask: by tag
    assert not (workspace / "environments").exists()
