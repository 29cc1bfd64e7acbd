"""mountinfo parsing and the rootfs propagation rules (pure; the root tests are in
tests/integration/volumes/test_propagation.py)."""

from __future__ import annotations

import pytest

from podrun.runtime import mounts as M
from podrun.runtime import syscalls as S

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
43 27 254:0 /srv /srv/data rw,relatime master:7 - ext4 /dev/vda rw
44 43 254:0 /srv /srv/data rw,relatime shared:9 master:7 - ext4 /dev/vda rw
45 27 0:50 / /var/with\\040space rw - tmpfs tmpfs rw
"""


def test_parse_mountinfo() -> None:
    infos = M.parse_mountinfo(MOUNTINFO)
    assert [m.mount_id for m in infos] == [22, 27, 43, 44, 45]
    assert infos[1].shared and not infos[1].slave
    assert infos[2].slave and not infos[2].shared
    assert infos[3].shared and infos[3].slave
    assert infos[4].mount_point == "/var/with space"


@pytest.mark.parametrize(("path", "want"), [
    ("/", 27), ("/etc/passwd", 27), ("/srv/data", 44), ("/srv/data/x/y", 44),
    ("/srv/database", 27), ("/proc/1", 22), ("/var/with space/f", 45),
])
def test_mount_containing(path: str, want: int) -> None:
    m = M.mount_containing(path, M.parse_mountinfo(MOUNTINFO))
    assert m is not None and m.mount_id == want


def test_rootfs_propagation_rule() -> None:
    def mnt(*opts: str) -> dict[str, object]:
        return {"destination": "/x", "type": "bind", "source": "/s", "options": list(opts)}
    assert M.rootfs_propagation([mnt("rbind", "rprivate")]) is None
    assert M.rootfs_propagation([mnt("rbind", "rslave"), mnt("rprivate")]) == "rslave"
    assert M.rootfs_propagation([mnt("rslave"), mnt("rbind", "rshared")]) == "rshared"


def test_rootfs_propagation_flags() -> None:
    assert M.rootfs_propagation_flags(None) == S.MS_REC | S.MS_PRIVATE
    assert M.rootfs_propagation_flags("rslave") == S.MS_REC | S.MS_SLAVE
    assert M.rootfs_propagation_flags("shared") == S.MS_REC | S.MS_SHARED
    for bad in ("runbindable", "bogus"):
        with pytest.raises(ValueError):
            M.rootfs_propagation_flags(bad)
