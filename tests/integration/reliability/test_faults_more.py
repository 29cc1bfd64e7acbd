"""Faults of issue 11 part 4 that test_faults.py does not cover. A registry that stalls
mid-blob (sends headers and half the layer, then nothing, never closing): the pull must
not hang; the registry read timeout (`registries.timeout` in the daemon config) cuts the
stalled request, the download resumes with a Range request, other pods stay served. A
full disk under the log directory: the container and the daemon carry on."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.image.scratch import oci_archive
from tests.integration.pods.conftest import IMAGE, PodDaemon
from tests.integration.reliability.conftest import pod_manifest
from tests.integration.reliability.test_faults import get_latency, reasons
from tests.support import make_busybox_rootfs

pytestmark = pytest.mark.privileged

READ_TIMEOUT = 2.0


class StallingRegistry(http.server.ThreadingHTTPServer):
    """A read-only OCI distribution endpoint on 127.0.0.1 serving one image from an OCI
    layout; the first `stalls` requests of the largest blob get their headers and half
    their bytes, then silence until the test ends (the socket stays open, as with a
    registry or proxy that hangs)."""

    daemon_threads = True

    def __init__(self, blobs: dict[str, bytes], manifest: str, stalls: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.blobs, self.manifest, self.stalls = blobs, manifest, stalls
        self.layer = max(blobs, key=lambda d: len(blobs[d]))
        self.release = threading.Event()
        self.layer_requests: list[str] = []  # the Range header of each, "" for none
        self.lock = threading.Lock()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: StallingRegistry
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        """Quiet: the test prints its own figures."""

    def do_GET(self) -> None:
        s = self.server
        if self.path == "/v2/":
            return self._send(200, b"{}", "application/json")
        m = re.fullmatch(r"/v2/e2e/busybox/(manifests|blobs)/(.+)", self.path)
        if not m:
            return self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}', "application/json")
        kind, ref = m.groups()
        digest = s.manifest if kind == "manifests" and not ref.startswith("sha256:") else ref
        if digest not in s.blobs:
            return self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', "application/json")
        body = s.blobs[digest]
        if kind == "manifests":
            ctype = json.loads(body)["mediaType"]
            return self._send(200, body, ctype, {"Docker-Content-Digest": digest})
        if digest != s.layer:
            return self._send(200, body, "application/octet-stream")
        self._layer(body)

    def _layer(self, body: bytes) -> None:
        s = self.server
        rng = self.headers.get("Range", "")
        with s.lock:
            s.layer_requests.append(rng)
            stall = len(s.layer_requests) <= s.stalls
        start = int(rng[len("bytes="):].split("-")[0]) if rng.startswith("bytes=") else 0
        part = body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if not stall:
            self.wfile.write(part)
            return
        self.wfile.write(part[:len(part) // 2])
        self.wfile.flush()
        s.release.wait(300)  # the stall: nothing more, the connection stays open
        self.close_connection = True

    def _send(self, code: int, body: bytes, ctype: str,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


def oci_layout(archive: Path) -> tuple[dict[str, bytes], str]:
    """The blobs of an oci-archive by digest, and its (single) manifest's digest."""
    blobs: dict[str, bytes] = {}
    with tarfile.open(archive) as tf:
        index = json.loads(tf.extractfile("index.json").read())  # type: ignore[union-attr]
        for m in tf.getmembers():
            if m.isfile() and m.name.startswith("blobs/sha256/"):
                blobs["sha256:" + m.name.rsplit("/", 1)[1]] = tf.extractfile(m).read()  # type: ignore[union-attr]
    return blobs, index["manifests"][0]["digest"]


def own_image(tmp_path: Path) -> Path:
    """busybox plus 1 MiB of random bytes: a layer the daemon's store does not hold yet
    (the fixture's imported busybox has the same layer digest as a plain rebuild)."""
    rootfs = make_busybox_rootfs(tmp_path / "rootfs")
    (rootfs / "noise").write_bytes(os.urandom(1 << 20))
    return oci_archive(rootfs, tmp_path / "stall.tar", "localhost/stall:1")


@pytest.fixture
def stalling(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StallingRegistry]:
    blobs, manifest = oci_layout(own_image(tmp_path))
    srv = StallingRegistry(blobs, manifest, stalls=request.param)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        t.join(10)


def with_read_timeout(pods: PodDaemon, seconds: float) -> None:
    """Restart the fixture's daemon with a short registry read timeout."""
    pods.stop()
    pods.config = {**pods.config, "registries": {"timeout": seconds}}
    pods.start()


def pod(name: str, image: str, command: tuple[str, ...] = ("sleep", "3600"),
        policy: str = "Always") -> str:
    return pod_manifest(name, command, image=image,
                        container_extra=f"    imagePullPolicy: {policy}\n")


@pytest.mark.parametrize("stalling", [1], indirect=True)
def test_registry_stalling_mid_blob_times_out_and_resumes(pods: PodDaemon,
                                                          stalling: StallingRegistry) -> None:
    with_read_timeout(pods, READ_TIMEOUT)
    t0 = time.monotonic()
    pods.apply(pod("stalled", f"{stalling.host}/e2e/busybox:1"))
    pods.wait_for(lambda: stalling.layer_requests, timeout=30)
    latency = get_latency(pods)  # while the layer request hangs
    st = pods.wait_phase("stalled", "Running", timeout=60)
    took = time.monotonic() - t0
    size = len(stalling.blobs[stalling.layer])
    print(f"\nstall 1: Running after {took:.1f} s (read timeout {READ_TIMEOUT} s), "
          f"layer requests {stalling.layer_requests}, get pods {latency:.2f} s")
    assert st["containerStatuses"][0]["ready"] is True
    # the second request resumes where the stalled one stopped, it does not start over
    assert stalling.layer_requests == ["", f"bytes={size // 2}-"], stalling.layer_requests
    assert READ_TIMEOUT <= took < READ_TIMEOUT + 30, took
    assert latency < 3.0, latency
    assert "download interrupted" in pods.log_text()
    assert "Pulled" in reasons(pods, "stalled")


@pytest.mark.parametrize("stalling", [3], indirect=True)
def test_registry_stalling_every_attempt_is_err_image_pull_then_running(
        pods: PodDaemon, stalling: StallingRegistry) -> None:
    with_read_timeout(pods, READ_TIMEOUT)
    t0 = time.monotonic()
    pods.apply(pod("stalled", f"{stalling.host}/e2e/busybox:1"))

    def failed() -> str | None:
        w = pods.container("stalled", "c").get("state", {}).get("waiting") or {}
        return w.get("message") if w.get("reason") in ("ErrImagePull", "ImagePullBackOff") \
            else None

    msg = pods.wait_for(failed, timeout=60)
    failed_after = time.monotonic() - t0
    latency = get_latency(pods)
    pods.wait_phase("stalled", "Running", timeout=90)
    took = time.monotonic() - t0
    print(f"\nstall 3: ErrImagePull after {failed_after:.1f} s ({msg!r}), Running after "
          f"{took:.1f} s, layer requests {len(stalling.layer_requests)}, "
          f"get pods {latency:.2f} s")
    assert "timed out" in msg and "after 3 attempts" in msg, msg
    assert latency < 3.0, latency
    rs = reasons(pods, "stalled")
    assert "Failed" in rs and "Pulled" in rs, rs



def test_disk_full_under_the_log_dir(pods: PodDaemon) -> None:
    """The pods' log directory on a 1 MiB tmpfs, a container writing 5 MiB: the
    container keeps running, the daemon answers, `podrun logs` returns what was kept."""
    pods.stop()
    pods.log_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "podrun-test-full",
                    str(pods.log_dir)], check=True)
    try:
        pods.start()
        script = "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 5242880; echo; " \
                 "echo after-the-flood; sleep 3600"
        pods.apply(pod("full", IMAGE, ("sh", "-c", script), policy="IfNotPresent"))
        pods.wait_phase("full", "Running", timeout=30)
        time.sleep(3)  # the 5 MiB are written in well under that
        latency = get_latency(pods)
        st = pods.container("full", "c")
        df = os.statvfs(pods.log_dir)
        used = (df.f_blocks - df.f_bfree) * df.f_frsize
        logs = pods.cli("logs", "full", timeout=30)
        alive = pods.proc is not None and pods.proc.poll() is None
        print(f"\ndisk full: restartCount {st.get('restartCount')}, state "
              f"{list(st.get('state', {}))}, log fs used {used} B, `logs` rc "
              f"{logs.returncode} {len(logs.stdout)} B, get pods {latency:.2f} s, "
              f"daemon alive {alive}, events {reasons(pods, 'full')}")
        assert alive
        assert "running" in st.get("state", {}) and st.get("restartCount") == 0, st
        assert latency < 3.0, latency
        assert logs.returncode == 0 and logs.stdout.startswith("0123456789"), logs.stderr
    finally:
        pods.delete_all()
        subprocess.run(["umount", "-l", str(pods.log_dir)], check=False)
