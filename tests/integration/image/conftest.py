"""Fixtures for image integration tests: a real distribution registry on 127.0.0.1, and test
images built here (busybox-static based, multi-arch index, zstd layer, whiteouts) pushed to
it with `skopeo copy` from oci-archives.

The registry is Debian's docker-registry (distribution 2.8), started per fixture with its
own config and storage under /var/tmp, on a free port, and stopped by its pid.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podrun.image.store import ImageStore
from tests.support import BUSYBOX, TEST_TMP, make_busybox_rootfs
from tests.unit.image.layers import (
    Image,
    build_image,
    build_index,
    d,
    f,
    oci_layout_tar,
    tar_bytes,
)

USER, PASSWORD = "podrun", "s3cret-pass"


def need(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"{t} is not installed (tests/setup.sh installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    dir: Path
    auth: bool

    @property
    def storage(self) -> Path:
        return self.dir / "data/docker/registry/v2"

    def blob_file(self, digest: str) -> Path:
        h = digest.split(":", 1)[1]
        return self.storage / "blobs/sha256" / h[:2] / h / "data"

    def push(self, archive: Path, repo_tag: str, *, all_images: bool = False) -> None:
        """skopeo copy oci-archive:ARCHIVE docker://HOST/REPO:TAG"""
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if all_images:
            cmd.append("--all")
        if self.auth:
            cmd += ["--dest-creds", f"{USER}:{PASSWORD}"]
        cmd += [f"oci-archive:{archive}", f"docker://{self.host}/{repo_tag}"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120,
                       env={**os.environ, "HOME": str(self.dir)})


def _start_registry(auth: bool, token: TokenServer | None = None,
                    tls: bool = False) -> Iterator[Registry]:
    need("docker-registry")
    base = Path(tempfile.mkdtemp(prefix="podrun-registry-", dir=TEST_TMP))
    port = free_port()
    tls_cfg = ""
    if tls:
        need("openssl")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", str(base / "tls.key"), "-out", str(base / "tls.crt"),
                        "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                       capture_output=True)
        tls_cfg = f", tls: {{certificate: {base}/tls.crt, key: {base}/tls.key}}"
    cfg = [
        "version: 0.1",
        "log: {level: error, accesslog: {disabled: true}}",
        f"storage: {{filesystem: {{rootdirectory: {base}/data}}, delete: {{enabled: true}}}}",
        f"http: {{addr: '127.0.0.1:{port}', secret: podrun-test-secret{tls_cfg}}}",
    ]
    if auth:
        need("htpasswd")
        with open(base / "htpasswd", "w") as out:
            subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, stdout=out)
        cfg.append(f"auth: {{htpasswd: {{realm: podrun-test, path: {base}/htpasswd}}}}")
    if token is not None:
        cfg.append(f"auth: {{token: {{realm: '{token.realm}', service: {token.service}, "
                   f"issuer: {token.issuer}, rootcertbundle: {token.cert}}}}}")
    (base / "config.yml").write_text("\n".join(cfg) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    log = open(base / "registry.log", "wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(base / "config.yml")],
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry did not start: " +
                                       (base / "registry.log").read_text()[-2000:]) from None
                time.sleep(0.05)
        yield Registry(f"127.0.0.1:{port}", base, auth or token is not None)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    yield from _start_registry(auth=False)


@pytest.fixture(scope="session")
def tls_registry() -> Iterator[Registry]:
    yield from _start_registry(auth=False, tls=True)


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[Registry]:
    yield from _start_registry(auth=True)


class TokenServer:
    """A docker token service (the Docker Hub auth flow) on 127.0.0.1: GET /token with
    optional Basic credentials returns a JWT (RS256, signed with the openssl CLI) granting
    the requested repository actions to USER, nothing to anonymous callers; a wrong password
    gets 401. The registry trusts it through `auth: token: rootcertbundle`."""

    service = "podrun-test-registry"
    issuer = "podrun-test-issuer"

    def __init__(self, base: Path) -> None:
        need("openssl")
        self.base = base
        self.key, self.cert = base / "token.key", base / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", str(self.key), "-out", str(self.cert), "-days", "2",
                        "-subj", "/CN=podrun-test-token"], check=True, capture_output=True)
        pub = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-pubkey", "-noout"],
                             check=True, capture_output=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                             check=True, capture_output=True).stdout
        b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        self.kid = ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))  # libtrust key ID
        self.requests: list[tuple[str, str]] = []  # (user or "", scope)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def sign(self, claims: dict[str, object]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).decode().rstrip("=")

        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input.encode(), check=True,
                             capture_output=True).stdout
        return f"{signing_input}.{b64(sig)}"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                user = ""
                h = self.headers.get("Authorization", "")
                if h.startswith("Basic "):
                    user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
                    if (user, pw) != (USER, PASSWORD):
                        self.send_response(401)
                        self.end_headers()
                        self.wfile.write(b'{"details": "invalid username or password"}')
                        return
                access = []
                for scope in q.get("scope", []):
                    outer.requests.append((user, scope))
                    kind, name, actions = scope.split(":")
                    if user:
                        access.append({"type": kind, "name": name,
                                       "actions": actions.split(",")})
                now = int(time.time())
                token = outer.sign({"iss": outer.issuer, "sub": user, "aud": outer.service,
                                    "exp": now + 300, "nbf": now - 10, "iat": now,
                                    "jti": f"{now}-{len(outer.requests)}", "access": access})
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture(scope="session")
def token_registry() -> Iterator[tuple[Registry, TokenServer]]:
    base = Path(tempfile.mkdtemp(prefix="podrun-token-", dir=TEST_TMP))
    token = TokenServer(base)
    try:
        for reg in _start_registry(auth=False, token=token):
            yield reg, token
    finally:
        token.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def store() -> Iterator[ImageStore]:
    p = Path(tempfile.mkdtemp(prefix="podrun-images-", dir=TEST_TMP))
    try:
        yield ImageStore(str(p))
    finally:
        for c in (p / "containers").glob("*/rootfs"):
            subprocess.run(["umount", "-l", str(c)], capture_output=True)
        shutil.rmtree(p, ignore_errors=True)


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    p = Path(tempfile.mkdtemp(prefix="podrun-image-fixtures-", dir=TEST_TMP))
    try:
        yield p
    finally:
        shutil.rmtree(p, ignore_errors=True)


def dir_tar(root: Path) -> bytes:
    """A layer tar of a directory, sorted, with numeric owners (as image builders do)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for n in sorted(dirnames) + sorted(filenames):
                p = Path(dirpath, n)
                ti = tf.gettarinfo(str(p), str(p.relative_to(root)))
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(p, "rb") as fh:
                        tf.addfile(ti, fh)
                else:
                    tf.addfile(ti)
    return buf.getvalue()


@dataclass
class BuiltImages:
    busybox: Image
    busybox_archive: Path
    whiteouts: Image
    whiteouts_archive: Path
    zstd: Image
    zstd_archive: Path
    index_archive: Path
    amd64: Image
    arm64: Image


@pytest.fixture(scope="session")
def images(workdir: Path) -> BuiltImages:
    if not os.path.exists(BUSYBOX):
        pytest.skip(f"{BUSYBOX} is missing (busybox-static)")
    rootfs = make_busybox_rootfs(workdir / "busybox-rootfs")
    base = dir_tar(rootfs)
    busybox = build_image([base], config={"Cmd": ["/bin/sh"], "Env": ["PATH=/bin:/usr/bin"]})
    # three layers: files, then whiteouts and an opaque dir, then a re-creation
    l1 = tar_bytes([d("data"), f("data/keep", b"keep"), f("data/remove-me", b"x"),
                    d("opaque"), f("opaque/old1", b"1"), f("opaque/old2", b"2"),
                    d("gone"), f("gone/inner", b"i")])
    l2 = tar_bytes([f("data/.wh.remove-me", b""), f("opaque/.wh..wh..opq", b""),
                    f("opaque/new", b"new"), f(".wh.gone", b""), f("data/added", b"a")])
    l3 = tar_bytes([d("gone"), f("gone/reborn", b"r")])
    whiteouts = build_image([base, l1, l2, l3])
    zstd = build_image([base, tar_bytes([f("zstd-file", b"z" * 100_000)])], "zstd")
    amd64 = build_image([tar_bytes([f("arch", b"amd64")])], arch="amd64")
    arm64 = build_image([tar_bytes([f("arch", b"arm64")])], arch="arm64")
    index, iblobs = build_index({"linux/arm64/v8": arm64, "linux/amd64": amd64})

    def write(name: str, data: bytes) -> Path:
        p = workdir / name
        p.write_bytes(data)
        return p

    return BuiltImages(
        busybox=busybox,
        busybox_archive=write("busybox.tar", oci_layout_tar(busybox.manifest, busybox.blobs,
                                                            "busybox")),
        whiteouts=whiteouts,
        whiteouts_archive=write("whiteouts.tar", oci_layout_tar(whiteouts.manifest,
                                                                whiteouts.blobs, "wh")),
        zstd=zstd,
        zstd_archive=write("zstd.tar", oci_layout_tar(zstd.manifest, zstd.blobs, "zstd")),
        index_archive=write("index.tar", oci_layout_tar(
            index, iblobs, "multi", top_type="application/vnd.oci.image.index.v1+json")),
        amd64=amd64, arm64=arm64)


@pytest.fixture(scope="session")
def pushed(registry: Registry, images: BuiltImages) -> Registry:
    need("skopeo")
    registry.push(images.busybox_archive, "test/busybox:1")
    registry.push(images.whiteouts_archive, "test/whiteouts:1")
    registry.push(images.zstd_archive, "test/zstd:1")
    registry.push(images.index_archive, "test/multi:1", all_images=True)
    return registry
