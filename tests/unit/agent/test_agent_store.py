"""The object store: resourceVersion, watch fan-out and slow watchers, persistence."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.agent.store import Expired, Store, atomic_write, qos_class
from podrun.errors import AlreadyExists, Conflict, NotFound
from tests.support import TEST_TMP


@pytest.fixture
def root() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="podrun-store-", dir=TEST_TMP))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def pod(name: str, ns: str = "default", image: str = "busybox") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "a", "image": image}]}}


def test_resource_version_is_monotonic_across_kinds() -> None:
    s = Store(None)
    a = s.create("pods", pod("a"))
    c = s.create("configmaps", {"metadata": {"name": "c"}, "data": {}})
    b = s.create("pods", pod("b"))
    rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, c, b)]
    assert rvs == [1, 2, 3]
    assert a["kind"] == "Pod" and c["kind"] == "ConfigMap"
    with pytest.raises(AlreadyExists, match='pods "a" already exists'):
        s.create("pods", pod("a"))


def test_uid_is_uuid4_unless_given_and_generation_counts_spec_changes() -> None:
    s = Store(None)
    a = s.create("pods", pod("a"))
    assert len(a["metadata"]["uid"]) == 36
    given = pod("b")
    given["metadata"]["uid"] = "0123abcd"
    assert s.create("pods", given)["metadata"]["uid"] == "0123abcd"
    new, changed = s.replace("pods", pod("a", image="busybox:2"))
    assert changed and new["metadata"]["generation"] == 2
    same, changed = s.replace("pods", pod("a", image="busybox:2"))
    assert not changed and same["metadata"]["resourceVersion"] == new["metadata"]["resourceVersion"]
    stale = pod("a", image="x")
    stale["metadata"]["resourceVersion"] = a["metadata"]["resourceVersion"]
    with pytest.raises(Conflict):
        s.replace("pods", stale)
    with pytest.raises(NotFound):
        s.replace("pods", pod("zzz"))


def test_update_status_keeps_spec_and_bumps_version() -> None:
    s = Store(None)
    a = s.create("pods", pod("a"))
    out = s.update_status(a["metadata"]["uid"], {"phase": "Running"})
    assert out is not None and out["status"] == {"phase": "Running"}
    assert out["spec"] == a["spec"]
    assert int(out["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert s.update_status("nope", {}) is None


def test_returned_objects_are_copies() -> None:
    s = Store(None)
    a = s.create("pods", pod("a"))
    a["spec"]["containers"][0]["image"] = "mutated"
    got = s.get("pods", "default", "a")
    assert got is not None and got["spec"]["containers"][0]["image"] == "busybox"


def test_watch_fan_out_in_order_to_every_watcher() -> None:
    async def main() -> None:
        s = Store(None)
        w1 = s.watch("pods", None, "0")
        w2 = s.watch("pods", "other", "0")
        s.create("pods", pod("a"))
        s.create("pods", pod("b", ns="other"))
        s.replace("pods", pod("a", image="x"))
        s.remove("pods", "default", "a")
        got = [json.loads(await w1.next() or b"") for _ in range(4)]
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
            ("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "a")]
        e = json.loads(await w2.next() or b"")
        assert e["object"]["metadata"]["name"] == "b"
        assert w2.queue.empty()
        w1.close()
        assert await w1.next() is None
    asyncio.run(main())


def test_watch_initial_state_then_resume() -> None:
    async def main() -> None:
        s = Store(None)
        s.create("pods", pod("a"))
        b = s.create("pods", pod("b"))
        w = s.watch("pods", None, "")
        first = [json.loads(await w.next() or b"")["object"]["metadata"]["name"] for _ in range(2)]
        assert first == ["a", "b"]
        s.create("pods", pod("c"))
        r = s.watch("pods", None, b["metadata"]["resourceVersion"])
        assert json.loads(await r.next() or b"")["object"]["metadata"]["name"] == "c"
    asyncio.run(main())


def test_label_change_out_of_selector_is_deleted_for_that_watcher() -> None:
    from podrun.api import schema

    async def main() -> None:
        s = Store(None)
        p = pod("a")
        p["metadata"]["labels"] = {"app": "x"}
        s.create("pods", p)
        w = s.watch("pods", None, str(s.rv), schema.parse_label_selector("app=x"))
        p["metadata"]["labels"] = {"app": "y"}
        s.replace("pods", p)
        assert json.loads(await w.next() or b"")["type"] == "DELETED"
    asyncio.run(main())


def test_slow_watcher_is_closed_not_buffered_without_bound() -> None:
    async def main() -> None:
        s = Store(None, watch_queue=4)
        w = s.watch("pods", None, "0")
        for i in range(10):
            s.create("pods", pod(f"p{i}"))
        assert w.closed and w.overflowed
        assert w not in s._watchers
        lines = []
        while (line := await w.next()) is not None:
            lines.append(line)
        assert len(lines) <= 4
    asyncio.run(main())


def test_too_old_resource_version_is_expired() -> None:
    s = Store(None, history=3)
    for i in range(6):
        s.create("pods", pod(f"p{i}"))

    async def main() -> None:
        with pytest.raises(Expired):
            s.watch("pods", None, "1")
        s.watch("pods", None, "4")
    asyncio.run(main())


def test_persistence_survives_a_new_store(root: Path) -> None:
    s = Store(root)
    s.load()
    a = s.create("pods", pod("a"))
    s.create("secrets", {"metadata": {"name": "s"}, "data": {"k": "dg=="}})
    s.update_status(a["metadata"]["uid"], {"phase": "Running"})
    s.create("pods", pod("gone"))
    s.remove("pods", "default", "gone")
    s.record_event(a, "Normal", "Started", "started")
    rv = s.rv
    assert (root / "api/pods/default/a.json").exists()
    assert not (root / "api/pods/default/gone.json").exists()
    assert oct((root / "api/pods/default/a.json").stat().st_mode & 0o777) == "0o600"

    t = Store(root)
    t.load()
    got = t.get("pods", "default", "a")
    assert got is not None and got["status"] == {"phase": "Running"}
    assert got["metadata"]["uid"] == a["metadata"]["uid"]
    assert t.get("secrets", "default", "s") is not None
    assert t.get("pods", "default", "gone") is None
    assert t.list("events") == []  # events are not kept across restarts
    assert t.rv >= rv  # continues above the reserved block
    assert int(t.create("pods", pod("b"))["metadata"]["resourceVersion"]) > rv


def test_unreadable_stored_object_is_skipped(root: Path) -> None:
    (root / "api/pods/default").mkdir(parents=True)
    (root / "api/pods/default/bad.json").write_text("{not json")
    s = Store(root)
    s.load()
    assert s.list("pods") == []


def test_atomic_write_leaves_no_temp_files(root: Path) -> None:
    atomic_write(root / "x" / "f.json", b"1")
    atomic_write(root / "x" / "f.json", b"2")
    assert sorted(p.name for p in (root / "x").iterdir()) == ["f.json"]
    assert (root / "x/f.json").read_bytes() == b"2"


def test_events_aggregate_repeats() -> None:
    s = Store(None)
    a = s.create("pods", pod("a"))
    s.record_event(a, "Warning", "BackOff", "back-off")
    e = s.record_event(a, "Warning", "BackOff", "back-off")
    assert e["count"] == 2
    assert len(s.list("events")) == 1
    assert e["involvedObject"] == {"kind": "Pod", "namespace": "default", "name": "a",
                                   "uid": a["metadata"]["uid"], "apiVersion": "v1",
                                   "resourceVersion": a["metadata"]["resourceVersion"]}


@pytest.mark.parametrize("resources,want", [
    ([{}], "BestEffort"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}],
     "Guaranteed"),
    ([{"requests": {"cpu": "100m"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
])
def test_qos_class(resources: list[dict], want: str) -> None:
    spec = {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}
    assert qos_class(spec) == want


# ---- durability without an fsync per change (store module docstring) ----------------------


def test_status_goes_to_the_journal_not_the_pod_file(root: Path) -> None:
    s = Store(root)
    s.load()
    a = s.create("pods", pod("a"))
    on_disk = (root / "api/pods/default/a.json").read_bytes()
    s.update_status(a["metadata"]["uid"], {"phase": "Running"})
    assert (root / "api/pods/default/a.json").read_bytes() == on_disk
    assert b'"phase":"Running"' in (root / "api/status.journal").read_bytes()


def test_a_killed_store_replays_the_journal(root: Path) -> None:
    """SIGKILL: no compaction, no clean shutdown; a torn last line is skipped, lines of a
    removed pod and of an older pod of the same name are ignored."""
    s = Store(root)
    s.load()
    a = s.create("pods", pod("a"))
    uid = a["metadata"]["uid"]
    s.update_status(uid, {"phase": "Pending"})
    running = s.update_status(uid, {"phase": "Running"})
    gone = s.create("pods", pod("gone"))
    s.update_status(gone["metadata"]["uid"], {"phase": "Running"})
    s.remove("pods", "default", "gone")
    with open(root / "api/status.journal", "ab") as f:
        f.write(b'{"ns":"default","name":"a","uid":"' + uid.encode() + b'","rv":"99999","sta')
    t = Store(root)
    t.load()
    got = t.get("pods", "default", "a")
    assert got is not None and got["status"] == {"phase": "Running"}
    assert got["metadata"]["resourceVersion"] == running["metadata"]["resourceVersion"]
    assert t.get("pods", "default", "gone") is None
    # load folded the journal into the pod files
    assert (root / "api/status.journal").read_bytes() == b""
    assert json.loads((root / "api/pods/default/a.json").read_text())["status"] == {
        "phase": "Running"}


def test_a_later_object_write_wins_over_older_journal_lines(root: Path) -> None:
    s = Store(root)
    s.load()
    a = s.create("pods", pod("a"))
    s.update_status(a["metadata"]["uid"], {"phase": "Running"})

    def mark(o: dict) -> None:
        o["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        o["status"] = {"phase": "Running", "reason": "Terminating"}
    s.update("pods", "default", "a", mark)
    t = Store(root)
    t.load()
    got = t.get("pods", "default", "a")
    assert got is not None and got["status"]["reason"] == "Terminating"
    assert got["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:00Z"


def test_the_journal_is_compacted_when_long(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from podrun.agent import store as store_mod
    monkeypatch.setattr(store_mod, "JOURNAL_MAX_BYTES", 2000)
    s = Store(root)
    s.load()
    uid = s.create("pods", pod("a"))["metadata"]["uid"]
    for i in range(100):
        s.update_status(uid, {"phase": "Running", "message": f"n{i}"})
    assert (root / "api/status.journal").stat().st_size <= 2000
    t = Store(root)
    t.load()
    assert t.get("pods", "default", "a")["status"]["message"] == "n99"  # type: ignore[index]


def test_resource_versions_are_never_reused_after_a_kill(root: Path) -> None:
    s = Store(root)
    s.load()
    a = s.create("pods", pod("a"))
    seen = [int(s.record_event(a, "Normal", "X", f"m{i}")["metadata"]["resourceVersion"])
            for i in range(5)]
    # only the reserved ceiling is on disk, written once for the whole block
    assert int((root / "api/resourceVersion").read_text()) >= max(seen)
    t = Store(root)
    t.load()
    assert int(t.create("pods", pod("b"))["metadata"]["resourceVersion"]) > max(seen)
