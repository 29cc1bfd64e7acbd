"""A busybox image pulled from the loopback registry and run as a container by the runtime's
init helper (under the runtime tests' pause-like harness), on the overlay from prepare_rootfs."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from podrun.image.oci import Platform, container_command
from podrun.image.registry import Puller
from podrun.image.rootfs import prepare_rootfs, remove_container_rootfs
from podrun.image.store import ImageStore
from tests.integration.image.conftest import BuiltImages, Registry
from tests.support import TEST_TMP

pytestmark = [pytest.mark.slow, pytest.mark.privileged]


def test_pulled_busybox_runs(pushed: Registry, images: BuiltImages, store: ImageStore) -> None:
    try:
        from tests.integration.runtime_init.conftest import Runner, host_mounts_under
    except ImportError as e:  # the runtime's harness lives with the runtime's tests
        pytest.skip(f"runtime init harness not available: {e}")
    rec = Puller(store).pull(f"{pushed.host}/test/busybox:1", Platform("linux", "amd64"))
    fs = prepare_rootfs(store, rec, "pod-c1")
    cfg = store.config(rec)
    tmp = Path(tempfile.mkdtemp(prefix="podrun-image-run-", dir=TEST_TMP))
    runner = Runner(Path(fs["lowerdir"][-1]), tmp)
    try:
        args = container_command(cfg, ["/bin/sh", "-c"],
                                 ["echo hello > /tmp/greeting; cat /tmp/greeting; "
                                  "ls /bin/busybox"])
        r = runner.run(args, overlay=fs["overlay"])
        assert r.returncode == 0, r
        assert r.stdout == "hello\n/bin/busybox\n", r
        # the write went to this container's upper dir, never into a snapshot
        assert Path(fs["upperdir"], "tmp/greeting").read_text() == "hello\n"
        for snap in fs["lowerdir"]:
            assert not Path(snap, "tmp/greeting").exists()
    finally:
        runner.stop_all()
        leaked = host_mounts_under(tmp) + host_mounts_under(Path(store.root))
        shutil.rmtree(tmp, ignore_errors=True)
        remove_container_rootfs(store, "pod-c1")
    assert not leaked, leaked
