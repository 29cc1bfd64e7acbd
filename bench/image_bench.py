"""Image pull+unpack throughput: podrun vs `skopeo copy` + `umoci unpack`, same image, one run.

    sudo .venv/bin/python bench/image_bench.py            # 200 MiB, 4 layers
    sudo .venv/bin/python bench/image_bench.py --size-mib 400 --layers 8

What it does, all on this host, network traffic only to 127.0.0.1:
1. generates a multi-layer image (half random, half text files; gzip level 6) as an
   oci-archive under /var/tmp, starts its own docker-registry on a free loopback port and
   pushes the image with `skopeo copy`;
2. podrun: Puller(store).pull(ref) into an empty store = download + verify + unpack;
3. reference: `skopeo copy docker://... oci:DIR:bench` then `umoci unpack --image DIR:bench
   BUNDLE` (the same work: fetch, verify, extract);
4. podrun again on the warm store: the image is already there, only the manifest is asked
   for and no layer is read ("re-unpack of a cached image costs nothing"), and
   store.commit() of the same manifest (no network at all).
Everything it created (registry process, files) is removed at the end.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podrun.image.digest import sha256_bytes  # noqa: E402
from podrun.image.oci import Platform  # noqa: E402
from podrun.image.registry import Puller  # noqa: E402
from podrun.image.store import ImageStore  # noqa: E402

WORDS = ("alpha beta gamma delta kernel overlay snapshot layer manifest digest registry "
         "container pod kubelet namespace cgroup").split()


def make_layer(i: int, size: int, rng: random.Random) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        written, n = 0, 0
        while written < size:
            n += 1
            fsize = min(size - written, rng.choice([4 << 10, 64 << 10, 512 << 10, 4 << 20]))
            if n % 2:
                data = rng.randbytes(fsize)
            else:
                line = (" ".join(rng.choices(WORDS, k=12)) + "\n").encode()
                data = (line * (fsize // len(line) + 1))[:fsize]
            ti = tarfile.TarInfo(f"layer{i}/d{n % 16}/f{n}")
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
            written += fsize
    return buf.getvalue()


def make_image(dest: Path, size_mib: int, layers: int) -> tuple[int, int]:
    rng = random.Random(42)
    blobs: dict[str, bytes] = {}
    descs, diff_ids = [], []
    raw_total = 0
    for i in range(layers):
        raw = make_layer(i, size_mib * (1 << 20) // layers, rng)
        raw_total += len(raw)
        blob = gzip.compress(raw, compresslevel=6, mtime=0)
        blobs[sha256_bytes(blob)] = blob
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": sha256_bytes(blob), "size": len(blob)})
        diff_ids.append(sha256_bytes(raw))
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    blobs[sha256_bytes(cfg)] = cfg
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha256_bytes(cfg), "size": len(cfg)},
                           "layers": descs}).encode()
    blobs[sha256_bytes(manifest)] = manifest
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": sha256_bytes(manifest), "size": len(manifest)}]}).encode()
    with tarfile.open(dest, "w") as tf:
        files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index}
        files.update({f"blobs/sha256/{d[7:]}": b for d, b in blobs.items()})
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return raw_total, sum(d["size"] for d in descs)


def start_registry(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (base / "config.yml").write_text(
        "version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {base}/data}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: bench}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    proc = subprocess.Popen(["docker-registry", "serve", str(base / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("docker-registry did not start") from None
            time.sleep(0.05)


def timed(fn: object) -> float:
    t = time.monotonic()
    fn()  # type: ignore[operator]
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=200)
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()
    for tool in ("docker-registry", "skopeo", "umoci"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (tests/setup.sh installs it)")
    base = Path(tempfile.mkdtemp(prefix="podrun-image-bench-", dir="/var/tmp"))
    proc = None
    try:
        t0 = time.monotonic()
        raw, compressed = make_image(base / "image.tar", args.size_mib, args.layers)
        print(f"image: {args.layers} layers, {raw / 2**20:.0f} MiB unpacked, "
              f"{compressed / 2**20:.0f} MiB gzip (generated in {time.monotonic() - t0:.1f}s)")
        (base / "reg").mkdir()
        proc, host = start_registry(base / "reg")
        ref = f"{host}/bench/image:1"
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                        f"oci-archive:{base / 'image.tar'}", f"docker://{ref}"], check=True,
                       env={**os.environ, "HOME": str(base)})
        store = ImageStore(str(base / "store"))
        amd64 = Platform("linux", "amd64")
        t_podrun = timed(lambda: Puller(store).pull(ref, amd64))

        def reference() -> None:
            subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                            f"docker://{ref}", f"oci:{base / 'oci'}:bench"], check=True,
                           env={**os.environ, "HOME": str(base)})
            subprocess.run(["umoci", "unpack", "--image", f"{base / 'oci'}:bench",
                            str(base / "bundle")], check=True, capture_output=True)

        t_ref = timed(reference)
        t_warm = timed(lambda: Puller(store).pull(ref, amd64))
        rec = store.list()[0]
        t_commit = timed(lambda: store.commit("bench/again:1", rec.digest))
        mib = raw / 2**20
        print(f"{'':42} {'seconds':>8} {'MiB/s (unpacked)':>17}")
        print(f"{'podrun pull+unpack':42} {t_podrun:8.2f} {mib / t_podrun:17.0f}")
        print(f"{'skopeo copy + umoci unpack':42} {t_ref:8.2f} {mib / t_ref:17.0f}")
        print(f"{'podrun pull again (cached)':42} {t_warm:8.3f}")
        print(f"{'podrun commit again (cached, no network)':42} {t_commit:8.3f}")
        print(f"podrun / reference time: {t_podrun / t_ref:.2f}")
    finally:
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(10)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
