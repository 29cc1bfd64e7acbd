"""--cgroup-root must name a directory below the cgroup v2 mount: on a hybrid host
/sys/fs/cgroup is a tmpfs, and a mkdir there is not a cgroup (and litters the host)."""

from pathlib import Path

import pytest

from podrun.errors import HostError
from podrun.runtime.cgroups import CgroupHost, CgroupManager, Layout

HYBRID = CgroupHost(Layout.HYBRID, Path("/sys/fs/cgroup/unified"))


def test_default_root_is_below_the_v2_mount() -> None:
    m = CgroupManager.for_host(HYBRID)
    assert m.root == Path("/sys/fs/cgroup/unified/podrun")


@pytest.mark.parametrize("root", ["/sys/fs/cgroup/podrun", "/sys/fs/cgroup/unified",
                                  "/tmp/podrun", "/sys/fs/cgroup/unified/../podrun"])
def test_a_root_outside_the_v2_mount_is_refused(root: str) -> None:
    with pytest.raises(HostError, match="not below the cgroup v2 mount"):
        CgroupManager.for_host(HYBRID, root=Path(root))


def test_an_explicit_root_below_the_mount_is_kept() -> None:
    m = CgroupManager.for_host(HYBRID, root=Path("/sys/fs/cgroup/unified/podrun-test-x"))
    assert m.root == Path("/sys/fs/cgroup/unified/podrun-test-x")
