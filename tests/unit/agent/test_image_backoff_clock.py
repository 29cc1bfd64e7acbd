"""The image pull backoff runs on the monotonic clock: a wall-clock jump (NTP step, a VM
resumed) neither ends it early nor stretches it (the kubelet's clock.Now() carries Go's
monotonic reading)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from podrun.agent.images import ImageManager, ImagePullFailure


def _ensure(m: ImageManager, image: str) -> str:
    async def go() -> str:
        try:
            await m.ensure(image, "Always", pod_uid="uid-1", event=lambda *a: None)
        except ImagePullFailure as e:
            return e.reason
        return "pulled"
    return asyncio.run(go())


@pytest.mark.parametrize("jump", [3600.0, -3600.0])
def test_a_wall_clock_jump_does_not_change_the_pull_backoff(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jump: float) -> None:
    m = ImageManager(tmp_path / "images", registries={"timeout": 1})
    image = "127.0.0.1:9/nothing/here:1"  # the discard port: nothing listens
    assert _ensure(m, image) == "ErrImagePull"
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + jump)
    assert _ensure(m, image) == "ImagePullBackOff"
