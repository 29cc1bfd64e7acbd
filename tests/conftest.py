from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import TEST_TMP, is_root, make_busybox_rootfs


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    """A read-only-by-convention busybox root filesystem shared by a test session."""
    d = Path(tempfile.mkdtemp(prefix="podrun-test-rootfs-", dir=TEST_TMP))
    try:
        yield make_busybox_rootfs(d / "rootfs")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if is_root():
        return
    skip = pytest.mark.skip(reason="needs root: privileged integration test")
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)
