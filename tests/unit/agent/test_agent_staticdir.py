"""Static pod directory semantics (no root): which files count, naming, UID determinism,
duplicates, invalid files isolated, and the merger's replace/remove ordering."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.agent.sources import PodConfig, source_of
from podrun.agent.staticdir import StaticDirReader, StaticDirSource
from podrun.agent.store import Store
from tests.support import TEST_TMP
from tests.unit.api.fakes import FakeManager

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: a
    image: {image}
"""


@pytest.fixture
def mdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="podrun-static-", dir=TEST_TMP))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write(d: Path, fname: str, name: str = "web", image: str = "busybox") -> Path:
    p = d / fname
    p.write_text(POD.format(name=name, image=image))
    return p


def names(scan: object) -> list[str]:
    return [p["metadata"]["name"] for p in scan.pods]  # type: ignore[attr-defined]


def test_which_files_count(mdir: Path) -> None:
    write(mdir, "b.manifest", "b")
    write(mdir, "a", "a")  # no extension
    write(mdir, "c.json.txt", "c")
    write(mdir, ".hidden.yaml", "hidden")
    write(mdir, ".b.manifest.swp", "swap")
    (mdir / "sub").mkdir()
    write(mdir / "sub", "deep.yaml", "deep")
    os.mkfifo(mdir / "fifo")
    scan = StaticDirReader(mdir, "TestNode").scan()
    assert names(scan) == ["a-testnode", "b-testnode", "c-testnode"]
    assert scan.problems == []


def test_naming_annotations_and_spec(mdir: Path) -> None:
    p = write(mdir, "web.yaml")
    pod = StaticDirReader(mdir, "TestNode").scan().pods[0]
    meta = pod["metadata"]
    assert meta["name"] == "web-testnode" and meta["namespace"] == "default"
    ann = meta["annotations"]
    assert ann["kubernetes.io/config.source"] == "file"
    assert ann["kubernetes.io/config.hash"] == meta["uid"] == ann["kubernetes.io/config.mirror"]
    assert ann["kubernetes.io/config.seen"].endswith("Z")
    assert ann["podrun.io/config.file"] == str(p)
    assert len(meta["uid"]) == 32
    assert pod["spec"]["nodeName"] == "testnode"
    assert {"operator": "Exists", "effect": "NoExecute"} in pod["spec"]["tolerations"]


def test_uid_is_deterministic_and_follows_content_node_and_path(mdir: Path) -> None:
    write(mdir, "web.yaml")
    uid = StaticDirReader(mdir, "n1").scan().pods[0]["metadata"]["uid"]
    # Same meaning, different bytes (comments, key order): same UID.
    (mdir / "web.yaml").write_text("# comment\nkind: Pod\napiVersion: v1\nspec:\n  containers:\n"
                                   "  - image: busybox\n    name: a\nmetadata:\n  name: web\n")
    assert StaticDirReader(mdir, "n1").scan().pods[0]["metadata"]["uid"] == uid
    assert StaticDirReader(mdir, "n2").scan().pods[0]["metadata"]["uid"] != uid
    write(mdir, "web.yaml", image="busybox:2")
    assert StaticDirReader(mdir, "n1").scan().pods[0]["metadata"]["uid"] != uid
    (mdir / "web.yaml").rename(mdir / "other.yaml")
    write(mdir, "other.yaml")
    assert StaticDirReader(mdir, "n1").scan().pods[0]["metadata"]["uid"] != uid


def test_explicit_uid_is_kept(mdir: Path) -> None:
    (mdir / "p.yaml").write_text(POD.format(name="web", image="x").replace(
        "  name: web\n", "  name: web\n  uid: my-uid\n"))
    assert StaticDirReader(mdir, "n").scan().pods[0]["metadata"]["uid"] == "my-uid"


def test_duplicate_names_first_in_sorted_order_wins(mdir: Path) -> None:
    write(mdir, "b.yaml", "web", image="second")
    write(mdir, "a.yaml", "web", image="first")
    scan = StaticDirReader(mdir, "n").scan()
    assert [p["spec"]["containers"][0]["image"] for p in scan.pods] == ["first"]
    [dup] = scan.problems
    assert dup.reason == "FailedValidation"
    assert 'due to duplicate pod name "web-n", ignoring' in dup.message
    assert dup.message.startswith("Error validating pod web-n_default(")


def test_invalid_file_is_isolated_with_field_paths(mdir: Path) -> None:
    write(mdir, "good.yaml", "good")
    (mdir / "bad.yaml").write_text(POD.format(name="bad", image="x") +
                                   "    ports:\n    - containerPort: notanumber\n")
    (mdir / "junk.yaml").write_text("::: not yaml [")
    (mdir / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
    scan = StaticDirReader(mdir, "n").scan()
    assert names(scan) == ["good-n"]
    by_path = {Path(p.path.split("[")[0]).name: p for p in scan.problems}
    assert set(by_path) == {"bad.yaml", "junk.yaml", "deploy.yaml"}
    assert "spec.containers[0].ports[0].containerPort" in by_path["bad.yaml"].message
    assert "Deployment" in by_path["deploy.yaml"].message


def test_multi_document_files_with_configmaps_and_secrets(mdir: Path) -> None:
    (mdir / "all.yaml").write_text(
        POD.format(name="web", image="x") + "---\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: cfg}\ndata: {k: v}\n---\napiVersion: v1\nkind: Secret\n"
        "metadata: {name: sec}\nstringData: {p: w}\n")
    scan = StaticDirReader(mdir, "n").scan()
    assert names(scan) == ["web-n"]
    assert scan.configmaps[0]["metadata"]["name"] == "cfg"
    assert scan.configmaps[0]["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
    assert scan.secrets[0]["data"] == {"p": "dw=="}


def test_unknown_fields_are_warnings_not_errors(mdir: Path) -> None:
    (mdir / "p.yaml").write_text(POD.format(name="web", image="x") + "    bogus: 1\n")
    scan = StaticDirReader(mdir, "n").scan()
    assert names(scan) == ["web-n"]
    assert [p.reason for p in scan.problems] == ["UnknownField"]
    assert "spec.containers[0].bogus" in scan.problems[0].message


def test_missing_directory_is_an_empty_snapshot(mdir: Path) -> None:
    assert StaticDirReader(mdir / "nope", "n").scan().missing


def run_source(mdir: Path, body, **kw):  # type: ignore[no-untyped-def]
    async def main() -> None:
        store = Store(None)
        mgr = FakeManager()
        config = PodConfig(store, mgr, "n")
        src = StaticDirSource(mdir, "n", config, store, **kw)
        try:
            await body(src, store, config, mgr)
        finally:
            await src.stop()
            await config.stop()
    asyncio.run(main())


def test_change_terminates_old_pod_before_adding_new(mdir: Path) -> None:
    async def body(src, store, config, mgr):  # type: ignore[no-untyped-def]
        write(mdir, "web.yaml")
        await src.sync()
        old = store.get("pods", "default", "web-n")["metadata"]["uid"]
        mgr.release.clear()
        write(mdir, "web.yaml", image="busybox:2")
        await src.sync()
        await asyncio.sleep(0.01)
        cur = store.get("pods", "default", "web-n")
        # The old pod is still terminating: the new one waits.
        assert cur["metadata"]["uid"] == old and cur["metadata"]["deletionTimestamp"]
        assert mgr.terminated == [(old, 30)]
        mgr.release.set()
        await config.wait_terminations()
        new = store.get("pods", "default", "web-n")
        assert new["metadata"]["uid"] != old
        assert new["spec"]["containers"][0]["image"] == "busybox:2"
        assert mgr.synced[-1]["metadata"]["uid"] == new["metadata"]["uid"]
    run_source(mdir, body)


def test_removed_file_terminates_gracefully_and_rescan_is_stable(mdir: Path) -> None:
    async def body(src, store, config, mgr):  # type: ignore[no-untyped-def]
        p = write(mdir, "web.yaml")
        await src.sync()
        await src.sync()
        assert len(mgr.synced) == 1  # an unchanged rescan changes nothing
        p.unlink()
        await src.sync()
        await config.wait_terminations()
        assert store.get("pods", "default", "web-n") is None
        assert len(mgr.terminated) == 1
    run_source(mdir, body)


def test_bad_file_gives_one_event_and_keeps_other_pods(mdir: Path) -> None:
    async def body(src, store, config, mgr):  # type: ignore[no-untyped-def]
        write(mdir, "good.yaml", "good")
        (mdir / "bad.yaml").write_text("kind: Pod\napiVersion: v1\nmetadata: {name: b}\n"
                                       "spec: {containers: [{name: 1}]}\n")
        await src.sync()
        await src.sync()
        evs = [e for e in store.list("events") if e["reason"] == "FailedValidation"]
        assert len(evs) == 1 and evs[0]["count"] == 1
        assert evs[0]["message"].startswith('Could not process manifest file "')
        assert "bad.yaml" in evs[0]["message"]
        assert store.get("pods", "default", "good-n") is not None
    run_source(mdir, body)


def test_api_pod_keeps_its_name_against_a_static_pod(mdir: Path) -> None:
    async def body(src, store, config, mgr):  # type: ignore[no-untyped-def]
        await config.api_create_pod({"metadata": {"name": "web-n", "namespace": "default"},
                                     "spec": {"containers": [{"name": "a", "image": "x"}]}})
        write(mdir, "web.yaml")
        await src.sync()
        pod = store.get("pods", "default", "web-n")
        assert source_of(pod) == "api"
        assert any("belongs to source" in e["message"] for e in store.list("events"))
    run_source(mdir, body)


def test_inotify_notices_a_new_file_quickly(mdir: Path) -> None:
    async def body(src, store, config, mgr):  # type: ignore[no-untyped-def]
        await src.start()
        assert src.inotify_active
        write(mdir, ".web.yaml.tmp")
        os.rename(mdir / ".web.yaml.tmp", mdir / "web.yaml")  # an editor's atomic save
        for _ in range(100):
            if store.get("pods", "default", "web-n"):
                break
            await asyncio.sleep(0.02)
        assert store.get("pods", "default", "web-n") is not None
    run_source(mdir, body, check_frequency=60)


def test_polling_alone_finds_a_new_file(mdir: Path) -> None:
    async def body(src, store, config, mgr):  # type: ignore[no-untyped-def]
        await src.start()
        assert not src.inotify_active
        write(mdir, "web.yaml")
        for _ in range(100):
            if store.get("pods", "default", "web-n"):
                break
            await asyncio.sleep(0.02)
        assert store.get("pods", "default", "web-n") is not None
    run_source(mdir, body, check_frequency=0.2, use_inotify=False)


def test_directory_removed_and_recreated_keeps_working(mdir: Path) -> None:
    async def body(src, store, config, mgr):  # type: ignore[no-untyped-def]
        sub = mdir / "m"
        sub.mkdir()
        src.reader.path = src.path = sub
        await src.start()
        write(sub, "a.yaml", "a")
        for _ in range(100):
            if store.get("pods", "default", "a-n"):
                break
            await asyncio.sleep(0.02)
        shutil.rmtree(sub)
        for _ in range(100):
            if store.get("pods", "default", "a-n") is None:
                break
            await asyncio.sleep(0.02)
        assert store.get("pods", "default", "a-n") is None
        sub.mkdir()
        write(sub, "b.yaml", "b")
        for _ in range(200):
            if store.get("pods", "default", "b-n"):
                break
            await asyncio.sleep(0.02)
        assert store.get("pods", "default", "b-n") is not None
    run_source(mdir, body, check_frequency=0.5)


def test_failed_termination_is_retried_not_forgotten() -> None:
    async def main() -> None:
        store = Store(None)
        mgr = FakeManager()
        calls = []

        async def flaky(uid: str, grace: int | None) -> None:
            calls.append(grace)
            if len(calls) == 1:
                raise RuntimeError("cgroup busy")
        mgr.terminate_pod = flaky  # type: ignore[method-assign]
        config = PodConfig(store, mgr, "n")
        pod = await config.api_create_pod({"metadata": {"name": "p", "namespace": "default"},
                                           "spec": {"containers": [{"name": "a", "image": "x"}]}})
        config.api_delete_pod(pod, 2)
        await asyncio.wait_for(config.wait_terminations(), 5)
        assert calls == [2, 2]
        assert store.get("pods", "default", "p") is None
        assert [e["reason"] for e in store.list("events")] == ["FailedKillPod"]
    asyncio.run(main())


def test_a_repeated_explicit_uid_is_refused(mdir: Path) -> None:
    for fname, name in (("a.yaml", "one"), ("b.yaml", "two")):
        (mdir / fname).write_text(POD.format(name=name, image="x").replace(
            f"  name: {name}\n", f"  name: {name}\n  uid: same-uid\n"))
    scan = StaticDirReader(mdir, "n").scan()
    assert names(scan) == ["one-n"]
    assert 'duplicate pod UID "same-uid"' in scan.problems[0].message
