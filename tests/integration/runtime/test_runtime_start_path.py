"""The runtime's share of a pod start, on a real sandbox: no pause round trip where the
answer is known without one (a new sandbox has no containers to list)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podrun.runtime import pause
from podrun.runtime.runtime import Runtime
from tests.integration.runtime.test_runtime_api import new_sandbox, rt, start

pytestmark = pytest.mark.privileged
__all__ = ["rt"]  # the fixture, imported for these tests


def test_a_new_sandbox_lists_no_containers_without_asking_pause(
        rt: Runtime, busybox_rootfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = new_sandbox(rt)
    asked: list[str] = []
    connect = pause.PauseClient._connect

    def counted(self: Any) -> Any:
        asked.append(str(self.run_dir))
        return connect(self)
    monkeypatch.setattr(pause.PauseClient, "_connect", counted)
    assert rt.list_containers(sb) == []
    assert asked == []
    # with a container, pause is asked (its state is pause's to say)
    start(rt, sb, "c1", busybox_rootfs, "sleep 30")
    asked.clear()
    [st] = rt.list_containers(sb)
    assert (st.id, st.state) == ("c1", "running") and asked
