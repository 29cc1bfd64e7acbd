"""Probe events go through client-go's spam filter, as the kubelet's recorder sends them:
25 events per key at once, then one per 5 minutes (a pod that stays unready must not cost a
store write per probe). The filter's clock is a FakeClock, so nothing here waits minutes."""

from __future__ import annotations

import asyncio

from podrun.agent.prober import EVENT_SPAM_BURST, EventSpamFilter, ProbeManager
from podrun.clock import FakeClock


def test_burst_then_one_per_five_minutes() -> None:
    now = [0.0]
    f = EventSpamFilter(lambda: now[0])
    key = ("uid1", "Warning", "Unhealthy", "Readiness probe failed: 404")
    assert [f.allow(key) for _ in range(EVENT_SPAM_BURST)] == [True] * EVENT_SPAM_BURST
    assert not f.allow(key)
    now[0] += 299.0
    assert not f.allow(key)
    now[0] += 1.5
    assert f.allow(key)
    assert not f.allow(key)


def test_keys_are_independent_and_forgotten_with_the_pod() -> None:
    now = [0.0]
    f = EventSpamFilter(lambda: now[0], burst=1)
    a = ("uid1", "Warning", "Unhealthy", "Liveness probe failed: x")
    assert f.allow(a) and not f.allow(a)
    assert f.allow(("uid1", "Warning", "Unhealthy", "Liveness probe failed: y"))
    assert f.allow(("uid2", *a[1:]))
    f.forget("uid1")
    assert f.allow(a)


def test_key_count_is_bounded() -> None:
    f = EventSpamFilter(lambda: 0.0, burst=1, max_keys=3)
    for i in range(10):
        assert f.allow((f"uid{i}", "Warning", "Unhealthy", "m"))
    assert len(f._buckets) == 3
    assert f.allow(("uid0", "Warning", "Unhealthy", "m"))  # evicted, so a full bucket again


def test_manager_records_through_the_filter() -> None:
    clock = FakeClock()
    events: list[tuple[str, str, str, str]] = []

    async def body() -> None:
        pm = ProbeManager(exec_sync=lambda *a: None, clock=clock, on_change=lambda u, c: None,
                          record_event=lambda *e: events.append(e),
                          daemon_started_at=clock.monotonic())
        try:
            for _ in range(EVENT_SPAM_BURST + 5):
                pm.record("uid1", "Warning", "Unhealthy", "Readiness probe failed: 404")
            pm.record("uid1", "Warning", "Unhealthy", "Liveness probe failed: 404")
            assert len(events) == EVENT_SPAM_BURST + 1
            clock.advance(300)
            pm.record("uid1", "Warning", "Unhealthy", "Readiness probe failed: 404")
            assert len(events) == EVENT_SPAM_BURST + 2
        finally:
            await pm.close()
    asyncio.run(body())
