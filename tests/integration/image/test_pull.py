"""Pulls from a real registry on loopback: tags, digests, auth, tampering, resumption,
platform selection, zstd, and the overlay view of whiteouts."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from podrun.image.auth import Credentials, from_dockerconfigjson, load_config_files
from podrun.image.errors import DigestMismatch, ManifestUnknown, PullAccessDenied
from podrun.image.oci import Platform
from podrun.image.registry import Puller, RegistryConfig
from podrun.image.rootfs import mount_overlay, prepare_rootfs, remove_container_rootfs, unmount
from podrun.image.store import ImageStore
from tests.integration.image.conftest import PASSWORD, USER, BuiltImages, Registry

pytestmark = pytest.mark.slow
AMD64 = Platform("linux", "amd64")


def test_pull_by_tag_and_digest(pushed: Registry, images: BuiltImages, store: ImageStore) -> None:
    seen: dict[str, tuple[int, int]] = {}
    rec = Puller(store).pull(f"{pushed.host}/test/busybox:1", AMD64,
                             progress=lambda dg, done, total: seen.__setitem__(dg, (done, total)))
    assert rec.name == f"{pushed.host}/test/busybox:1"
    assert rec.id == images.busybox.config_digest
    (layer,) = rec.layers
    assert seen[layer["digest"]] == (layer["size"], layer["size"])
    top = store.snapshots.get(rec.chain_ids[-1])
    assert top is not None
    assert os.path.islink(os.path.join(top.path, "bin/sh"))
    assert os.access(os.path.join(top.path, "bin/busybox"), os.X_OK)
    # by digest: nothing downloaded again, the same snapshots
    rec2 = Puller(store).pull(f"{pushed.host}/test/busybox@{rec.digest}", AMD64)
    assert rec2.chain_ids == rec.chain_ids and rec2.name.endswith("@" + rec.digest)
    assert len(store.snapshots.list()) == 1
    assert Puller(store).resolve(f"{pushed.host}/test/busybox:1") == rec.digest


def test_manifest_unknown(pushed: Registry, store: ImageStore) -> None:
    with pytest.raises(ManifestUnknown, match="manifest unknown"):
        Puller(store).pull(f"{pushed.host}/test/busybox:nope", AMD64)


def test_multi_arch_index_picks_platform(pushed: Registry, images: BuiltImages,
                                         store: ImageStore) -> None:
    rec = Puller(store).pull(f"{pushed.host}/test/multi:1", AMD64)
    assert rec.digest == images.amd64.digest and rec.index_digest
    top = store.snapshots.get(rec.chain_ids[-1])
    assert top is not None and Path(top.path, "arch").read_text() == "amd64"
    rec = Puller(store).pull(f"{pushed.host}/test/multi:1", Platform("linux", "arm64"))
    assert rec.digest == images.arm64.digest


def test_zstd_layer(pushed: Registry, store: ImageStore) -> None:
    rec = Puller(store).pull(f"{pushed.host}/test/zstd:1", AMD64)
    assert rec.layers[-1]["mediaType"].endswith("+zstd")
    top = store.snapshots.get(rec.chain_ids[-1])
    assert top is not None and Path(top.path, "zstd-file").read_bytes() == b"z" * 100_000


def test_tampered_blob_rejected(registry: Registry, images: BuiltImages,
                                store: ImageStore) -> None:
    registry.push(images.whiteouts_archive, "test/tampered:1")
    m = json.loads(images.whiteouts.manifest)
    victim = m["layers"][1]["digest"]
    blob = registry.blob_file(victim)
    original = blob.read_bytes()
    try:
        blob.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
        with pytest.raises(DigestMismatch, match="digest mismatch"):
            Puller(store).pull(f"{registry.host}/test/tampered:1", AMD64)
        assert not store.blobs.has(victim)
        assert store.list() == []
    finally:
        blob.write_bytes(original)


class CuttingTransport(httpx.HTTPTransport):
    """Breaks the first download of each layer blob halfway through."""

    def __init__(self) -> None:
        super().__init__()
        self.cut: set[str] = set()
        self.ranges: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = super().handle_request(request)
        path = request.url.path
        if "/blobs/" not in path or request.method != "GET" or resp.status_code not in (200, 206):
            return resp
        if "Range" in request.headers:
            self.ranges.append(request.headers["Range"])
        size = int(resp.headers.get("content-length", "0"))
        if path in self.cut or size < 10_000:
            return resp
        self.cut.add(path)
        stream = resp.stream

        class Cut(httpx.SyncByteStream):
            def __iter__(self) -> Any:
                sent = 0
                for chunk in stream:  # type: ignore[union-attr]
                    take = chunk[: max(0, size // 2 - sent)]
                    sent += len(take)
                    if take:
                        yield take
                    if sent >= size // 2:
                        raise httpx.ReadError("connection cut by the test")

            def close(self) -> None:
                stream.close()  # type: ignore[union-attr]

        return httpx.Response(resp.status_code, headers=resp.headers, stream=Cut(),
                              request=request)


def test_interrupted_download_resumed(pushed: Registry, images: BuiltImages,
                                      store: ImageStore) -> None:
    t = CuttingTransport()
    rec = Puller(store, transport=t).pull(f"{pushed.host}/test/busybox:1", AMD64)
    assert t.cut, "the test did not cut any download"
    assert t.ranges and all(r.startswith("bytes=") and r != "bytes=0-" for r in t.ranges)
    assert rec.id == images.busybox.config_digest
    assert os.listdir(store.blobs.ingest_dir) == []


def test_auth_success_and_failure(auth_registry: Registry, images: BuiltImages,
                                  store: ImageStore, tmp_path_factory: Any) -> None:
    auth_registry.push(images.busybox_archive, "private/busybox:1")
    ref = f"{auth_registry.host}/private/busybox:1"
    with pytest.raises(PullAccessDenied, match=r"pull access denied.*unauthorized"):
        Puller(store).pull(ref, AMD64)
    with pytest.raises(PullAccessDenied, match=r"pull access denied.*unauthorized"):
        Puller(store).pull(ref, AMD64, auth=Credentials(USER, "wrong"))
    rec = Puller(store).pull(ref, AMD64, auth=Credentials(USER, PASSWORD))
    assert rec.id == images.busybox.config_digest
    # the same through an imagePullSecret and through a docker config.json
    secret = {"auths": {auth_registry.host: {
        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}
    store.remove(rec.name)
    rec = Puller(store, credentials=from_dockerconfigjson(secret)).pull(ref, AMD64)
    assert rec.id == images.busybox.config_digest
    cfg = Path(auth_registry.dir / "config.json")
    cfg.write_text(json.dumps(secret))
    assert load_config_files([str(cfg)])[auth_registry.host].username == USER


def test_mirror_is_tried_first(pushed: Registry, images: BuiltImages, store: ImageStore) -> None:
    cfg = RegistryConfig.from_dict({"mirrors": {"docker.io": [f"http://{pushed.host}"]}})
    rec = Puller(store, config=cfg).pull("test/busybox:1", AMD64)
    assert rec.name == "docker.io/test/busybox:1"
    assert rec.id == images.busybox.config_digest


@pytest.mark.privileged
def test_whiteouts_merged_view(pushed: Registry, store: ImageStore) -> None:
    rec = Puller(store).pull(f"{pushed.host}/test/whiteouts:1", AMD64)
    fs = prepare_rootfs(store, rec, "c1")
    assert len(fs["lowerdir"]) == 4
    target = fs["target"]
    mount_overlay(target, fs["lowerdir"], fs["upperdir"], fs["workdir"])
    try:
        root = Path(target)
        assert sorted(os.listdir(root / "data")) == ["added", "keep"]
        assert sorted(os.listdir(root / "opaque")) == ["new"]
        assert sorted(os.listdir(root / "gone")) == ["reborn"]
        assert (root / "bin/busybox").exists()
        out = subprocess.run(["chroot", target, "/bin/sh", "-c", "echo hi > /tmp/x; cat /tmp/x"],
                             capture_output=True, text=True, check=True)
        assert out.stdout == "hi\n"
        assert Path(fs["upperdir"], "tmp/x").exists()  # writes land in the upper dir
        with pytest.raises(Exception, match="in use"):
            store.remove(rec.name)
    finally:
        unmount(target)
    remove_container_rootfs(store, "c1")
    assert not os.path.exists(os.path.dirname(target))
    store.remove(rec.name)
    assert store.snapshots.list() == []


@pytest.mark.privileged
def test_import_oci_and_docker_archives_then_run(images: BuiltImages, store: ImageStore,
                                                 workdir: Path) -> None:
    from podrun.image.archive import import_file
    from tests.unit.image.layers import docker_archive_tar

    (rec,) = import_file(store, str(images.busybox_archive), name="imported/busybox:oci")
    docker_tar = workdir / "docker-save.tar"
    docker_tar.write_bytes(docker_archive_tar(images.busybox, ["imported/busybox:docker"]))
    (rec2,) = import_file(store, str(docker_tar))
    assert rec.id == rec2.id and rec.chain_ids == rec2.chain_ids
    fs = prepare_rootfs(store, rec2, "c2")
    mount_overlay(fs["target"], fs["lowerdir"], fs["upperdir"], fs["workdir"])
    try:
        st = os.lstat(Path(fs["target"], "bin/sh"))
        assert stat.S_ISLNK(st.st_mode)
        out = subprocess.run(["chroot", fs["target"], "/bin/busybox", "echo", "ok"],
                             capture_output=True, text=True, check=True)
        assert out.stdout == "ok\n"
    finally:
        remove_container_rootfs(store, "c2")


def test_concurrent_pulls_of_one_image(pushed: Registry, images: BuiltImages,
                                       store: ImageStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        recs = list(pool.map(lambda _: Puller(store).pull(f"{pushed.host}/test/whiteouts:1",
                                                          AMD64), range(3)))
    assert {r.digest for r in recs} == {images.whiteouts.digest}
    assert len(store.snapshots.list()) == 4
    assert os.listdir(store.blobs.ingest_dir) == []
    assert sorted(n for n in os.listdir(store.snapshots.root) if n.isdigit()) == ["1", "2", "3",
                                                                               "4"]


def test_bearer_token_registry(token_registry: tuple[Registry, Any], images: BuiltImages,
                               store: ImageStore) -> None:
    reg, token = token_registry
    reg.push(images.busybox_archive, "private/tok:1")
    ref = f"{reg.host}/private/tok:1"
    token.requests.clear()
    with pytest.raises(PullAccessDenied, match=r"pull access denied.*unauthorized"):
        Puller(store).pull(ref, AMD64)  # anonymous token: no access granted
    assert token.requests == [("", "repository:private/tok:pull")]
    with pytest.raises(PullAccessDenied, match="token request with the given credentials "
                                               "refused"):
        Puller(store).pull(ref, AMD64, auth=Credentials(USER, "wrong"))
    token.requests.clear()
    rec = Puller(store).pull(ref, AMD64, auth=Credentials(USER, PASSWORD))
    assert rec.id == images.busybox.config_digest
    assert token.requests == [(USER, "repository:private/tok:pull")]  # one token per pull


def test_https_registry(tls_registry: Registry, images: BuiltImages, store: ImageStore) -> None:
    tls_registry.push(images.busybox_archive, "tls/busybox:1")
    seen: list[str] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url.scheme)
            return super().handle_request(request)

    # loopback: HTTPS without verification (self-signed), no fallback to HTTP needed
    rec = Puller(store, transport=Recording(verify=False)).pull(
        f"{tls_registry.host}/tls/busybox:1", AMD64)
    assert rec.id == images.busybox.config_digest
    assert set(seen) == {"https"}
    # the default client: loopback is insecure, so the self-signed certificate is accepted
    store.remove(rec.name)
    rec = Puller(store).pull(f"{tls_registry.host}/tls/busybox:1", AMD64)
    assert rec.id == images.busybox.config_digest
