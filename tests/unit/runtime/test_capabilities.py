"""container_capabilities: containerd's default set plus/minus securityContext."""

from __future__ import annotations

import pytest

from podrun.runtime.capabilities import (
    CAPABILITY_NAMES,
    DEFAULT_CAP_MASK,
    UnknownCapability,
    container_capabilities,
    from_mask,
    to_mask,
)


def test_default_set_is_containerds_14():
    caps = container_capabilities()
    assert len(caps["bounding"]) == 14
    assert to_mask(caps["effective"]) == DEFAULT_CAP_MASK == 0xA80425FB
    assert caps["bounding"] == caps["permitted"] == caps["effective"]
    assert caps["inheritable"] == caps["ambient"] == []


@pytest.mark.parametrize(("add", "drop", "want"), [
    pytest.param(["NET_ADMIN"], [], DEFAULT_CAP_MASK | 1 << 12, id="add"),
    pytest.param([], ["NET_RAW"], DEFAULT_CAP_MASK & ~(1 << 13), id="drop"),
    pytest.param(["NET_ADMIN"], ["ALL"], 1 << 12, id="drop-all-then-add"),
    pytest.param([], ["ALL"], 0, id="drop-all"),
    pytest.param(["ALL"], [], (1 << len(CAPABILITY_NAMES)) - 1, id="add-all"),
    pytest.param(["cap_sys_admin"], [], DEFAULT_CAP_MASK | 1 << 21, id="prefix-and-case"),
    pytest.param(["CHOWN"], [], DEFAULT_CAP_MASK, id="add-present"),
])
def test_add_drop(add, drop, want):
    assert to_mask(container_capabilities(False, add, drop)["effective"]) == want


def test_privileged_gets_everything():
    caps = container_capabilities(privileged=True, drop=["ALL"])
    assert to_mask(caps["bounding"]) == (1 << 41) - 1


def test_unknown_capability():
    with pytest.raises(UnknownCapability):
        container_capabilities(add=["NOT_A_CAP"])


def test_mask_roundtrip_and_last_cap():
    names = ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"]
    assert from_mask(to_mask(names)) == names
    assert to_mask(names, last_cap=39) == 1  # the kernel does not know cap 40
