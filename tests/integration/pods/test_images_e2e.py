"""Images end to end through the CLI (issue 5): pull policies against a real registry on
loopback (Debian's docker-registry, started on 127.0.0.1 with a free port; loopback
registries are reached over plain HTTP without any `registries` config, as containerd does),
the kubelet's waiting reasons and events, `podrun pull`, `podrun images`,
`podrun image import` and `podrun image rm`.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.image.scratch import busybox_rootfs, oci_archive
from tests.integration.daemon.conftest import PODRUN
from tests.integration.image.conftest import Registry, _start_registry, free_port, need
from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


@pytest.fixture(scope="module")
def registry(busybox_archive: Path) -> Iterator[Registry]:
    need("skopeo")
    for reg in _start_registry(auth=False):
        reg.push(busybox_archive, "e2e/busybox:1")
        yield reg


def manifest(name: str, image: str, policy: str | None = None, restart: str = "Always") -> str:
    pol = f"    imagePullPolicy: {policy}\n" if policy else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  restartPolicy: {restart}\n  terminationGracePeriodSeconds: 1\n"
            f"  containers:\n  - name: c\n    image: {json.dumps(image)}\n{pol}"
            f"    command: [\"sh\", \"-c\", \"echo started; sleep 1000\"]\n")


def waiting(pods: PodDaemon, name: str) -> dict[str, str]:
    return dict((pods.container(name, "c").get("state") or {}).get("waiting") or {})


def status_column(pods: PodDaemon, name: str) -> str:
    for line in pods.cli("get", "pods").stdout.splitlines()[1:]:
        cols = line.split()
        if cols and cols[0] == name:
            return cols[2]
    return ""


def test_always_pulls_from_the_registry_with_events(pods: PodDaemon, registry: Registry) -> None:
    ref = f"{registry.host}/e2e/busybox:1"
    pods.apply(manifest("always", ref, "Always"))
    pods.wait_phase("always", "Running", timeout=60)
    cs = pods.container("always", "c")
    assert cs["image"] == ref
    assert cs["imageID"].startswith(f"{registry.host}/e2e/busybox@sha256:"), cs["imageID"]
    assert pods.wait_for(lambda: pods.cli("logs", "always").stdout == "started\n")
    text = pods.cli("describe", "pod", "always").stdout
    assert f'Pulling image "{ref}"' in text, text
    assert f'Successfully pulled image "{ref}"' in text, text
    ev = pods.cli("get", "events", "-o", "json").stdout
    pulled = [e["message"] for e in json.loads(ev)["items"] if e["reason"] == "Pulled"]
    assert len(pulled) == 1 and re.fullmatch(
        rf'Successfully pulled image "{re.escape(ref)}" in [0-9.]+m?s '
        r'\([0-9.]+m?s including waiting\)\. Image size: \d+ bytes\.', pulled[0]), pulled
    ev = pods.cli("get", "events").stdout
    assert "Pulling" in ev and "Pulled" in ev, ev
    imgs = pods.cli("images").stdout
    assert f"{registry.host}/e2e/busybox" in imgs and "1" in imgs.split(), imgs


def test_if_not_present_with_the_image_present_does_not_pull(pods: PodDaemon) -> None:
    pods.apply(manifest("present", IMAGE, "IfNotPresent"))
    pods.wait_phase("present", "Running")
    text = pods.cli("describe", "pod", "present").stdout
    assert f'Container image "{IMAGE}" already present on machine' in text, text
    assert "Pulling" not in text


def test_never_with_a_missing_image_is_err_image_never_pull(pods: PodDaemon,
                                                           registry: Registry) -> None:
    ref = f"{registry.host}/e2e/not-here:1"
    pods.apply(manifest("never", ref, "Never"))
    w = pods.wait_for(lambda: waiting(pods, "never").get("reason") == "ErrImageNeverPull"
                      and waiting(pods, "never"), timeout=20)
    assert w["message"] == f'Container image "{ref}" is not present with pull policy of Never'
    assert pods.status("never")["phase"] == "Pending"
    assert status_column(pods, "never") == "ErrImageNeverPull"
    assert "Pulling" not in pods.cli("describe", "pod", "never").stdout


@pytest.mark.parametrize("what", ["missing-image", "missing-registry"])
def test_missing_image_is_err_image_pull_then_back_off(pods: PodDaemon, registry: Registry,
                                                      what: str) -> None:
    # runtime.go "should not be able to pull image from invalid registry" / "non-existing"
    host = registry.host if what == "missing-image" else f"127.0.0.1:{free_port()}"
    ref = f"{host}/e2e/nothing:1"
    pods.apply(manifest("nopull", ref))
    seen: set[str] = set()

    def reasons() -> bool:
        seen.add(waiting(pods, "nopull").get("reason", ""))
        seen.add(status_column(pods, "nopull"))
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    try:
        pods.wait_for(reasons, timeout=30, interval=0.05)
    except AssertionError:
        raise AssertionError(f"seen {seen}\n" + pods.cli("describe", "pod", "nopull").stdout)\
            from None
    assert pods.status("nopull")["phase"] == "Pending"
    assert pods.container("nopull", "c")["ready"] is False
    text = pods.cli("describe", "pod", "nopull").stdout
    assert f'Failed to pull image "{ref}"' in text, text
    if what == "missing-image":
        assert f'Back-off pulling image "{ref}"' in text, text
        # the worker waits for the backoff: a few BackOff events, not a hot loop
        backoffs = [line for line in text.splitlines() if "Back-off pulling" in line]
        assert all("(x" not in b or int(b.split("(x")[1].split()[0]) < 10 for b in backoffs), \
            backoffs


def test_invalid_image_reference_is_refused(pods: PodDaemon) -> None:
    r = pods.cli("apply", "-f", "-", input=manifest("badref", "Busybox:UPPER"))
    if r.returncode != 0:  # rejected by validation, naming the field
        assert "spec.containers[0].image" in r.stderr, r.stderr
        assert pods.pod("badref") is None
        return
    w = pods.wait_for(lambda: waiting(pods, "badref").get("reason") == "InvalidImageName"
                      and waiting(pods, "badref"), timeout=20)
    assert "Busybox:UPPER" in w["message"]


@pytest.fixture
def own_archive(e2e_dir: Path) -> Path:
    """An image with an ID of its own (a marker file in the layer, a working dir)."""
    rootfs = busybox_rootfs(e2e_dir / "own-rootfs")
    (rootfs / "marker").write_text("own image\n")
    return oci_archive(rootfs, e2e_dir / "own.tar", "localhost/own:1", working_dir="/tmp")


def test_pull_images_import_and_rm(pods: PodDaemon, registry: Registry, busybox_archive: Path,
                                   own_archive: Path) -> None:
    ref = f"{registry.host}/e2e/busybox:1"
    r = pods.cli("pull", ref, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ": done " in r.stdout, r.stdout  # one progress line per layer (not a terminal)
    assert r.stdout.splitlines()[-1].startswith("Image is up to date for sha256:"), r.stdout
    rows = [line.split() for line in pods.cli("images").stdout.splitlines()]
    assert rows[0][:3] == ["IMAGE", "TAG", "IMAGE"]
    assert [f"{registry.host}/e2e/busybox", "1"] in [row[:2] for row in rows[1:]], rows
    r = pods.cli("pull", f"{registry.host}/e2e/absent:1", timeout=60)
    assert r.returncode == 1 and "manifest unknown" in r.stderr, (r.stdout, r.stderr)

    # import an oci-archive, from a file and from stdin
    r = pods.cli("image", "import", str(own_archive))
    assert r.returncode == 0, r.stderr
    assert "Loaded image: localhost/own:1" in r.stdout, r.stdout
    r2 = subprocess.run([str(PODRUN), "--socket", str(pods.socket), "image", "import", "-",
                         "--name", "localhost/stdin:3"], input=busybox_archive.read_bytes(),
                        capture_output=True, timeout=60)
    assert r2.returncode == 0, r2.stderr
    assert b"Loaded image: localhost/stdin:3" in r2.stdout
    imgs = pods.cli("images").stdout
    assert "localhost/own" in imgs and "localhost/stdin" in imgs, imgs

    # a pod runs the imported image (its working dir from the image config)
    pods.apply(manifest("user", "localhost/own:1", "Never").replace(
        "echo started; sleep 1000", "pwd; cat /marker; sleep 1000"))
    pods.wait_phase("user", "Running")
    assert pods.wait_for(lambda: pods.cli("logs", "user").stdout == "/tmp\nown image\n")
    # removal is refused while a container uses the image...
    r = pods.cli("image", "rm", "localhost/own:1")
    assert r.returncode == 1, r.stdout
    assert "is in use by a container" in r.stderr, r.stderr
    assert "localhost/own" in pods.cli("images").stdout
    # ... but a second name of an image in use is only a tag: it may go (as rmi untags)
    assert pods.cli("image", "rm", "localhost/stdin:3").returncode == 0
    assert pods.cli("delete", "pod", "user", "--wait", timeout=60).returncode == 0
    r = pods.cli("image", "rm", "localhost/own:1")
    assert r.returncode == 0, r.stderr
    assert "Deleted: localhost/own:1" in r.stdout
    imgs = pods.cli("images").stdout
    assert "localhost/own" not in imgs and "localhost/stdin" not in imgs, imgs
    r = pods.cli("image", "rm", "localhost/own:1")
    assert r.returncode == 1 and "not found" in r.stderr, r.stderr
