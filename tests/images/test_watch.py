"""ServiceWatch: a rollout's wait wakes on the engine's service events, and polls when there are none."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from metarepo.images.watch import ServiceWatch


class _NoEvents:
    """An engine (or proxy) that does not stream events."""

    def events(self, **kwargs):
        raise ConnectionError("events are not proxied here")


def test_without_events_a_wait_is_the_polling_interval():
    with ServiceWatch(_NoEvents(), "svc") as watch:
        t0 = time.monotonic()
        watch.wait(0.2)
        assert 0.15 < time.monotonic() - t0 < 2


@pytest.mark.docker
def test_a_change_to_the_service_ends_the_wait_at_once(engine, docker_client, tmp_path: Path):
    shutil.copy2(engine.busybox, tmp_path / "busybox")
    (tmp_path / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\n'
                                         'ENTRYPOINT ["/bin/busybox", "sleep", "2147483647"]\n')
    image, _ = docker_client.images.build(path=str(tmp_path), tag="metarepo-tests/watch:1", rm=True)
    service = docker_client.services.create(image.id, name="watched", labels={"io.metarepo.project": "watch"})
    try:
        with ServiceWatch(docker_client.api, service.id) as watch:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until the service has settled: a wait that runs its course
                t0 = time.monotonic()
                watch.wait(0.5)
                if time.monotonic() - t0 >= 0.45:
                    break
            service.reload()
            service.update(labels={"io.metarepo.project": "watch", "changed": "yes"})
            t0 = time.monotonic()
            watch.wait(30)
            assert time.monotonic() - t0 < 5  # the update event, not the 30 s timeout
    finally:
        service.remove()
