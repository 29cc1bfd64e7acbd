"""API handlers through aiohttp's test client: Status objects and codes, watch order,
fieldValidation, size limit, static pods through the API, logs/exec routing."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import yaml

from podrun.api import schema
from podrun.api.server import peer_allowed
from tests.unit.api.fakes import FakeExec, FakeManager, api_client, pod

PODS = "/api/v1/namespaces/default/pods"


def run(fn: Callable[..., Awaitable[Any]], **kw: Any) -> Any:
    async def main() -> Any:
        async with api_client(**kw) as (client, store, config, mgr):
            return await fn(client, store, config, mgr)
    return asyncio.run(main())


def test_create_get_list_pod() -> None:
    async def body(client: Any, store: Any, config: Any, mgr: Any) -> None:
        r = await client.post(PODS, json=pod("web"))
        assert r.status == 201
        created = await r.json()
        meta = created["metadata"]
        assert meta["uid"] and meta["resourceVersion"] == "1" and meta["generation"] == 1
        assert meta["creationTimestamp"].endswith("Z")
        assert meta["annotations"] if "annotations" in meta else True
        assert created["status"]["phase"] == "Pending"
        assert created["status"]["conditions"][0]["type"] == "PodScheduled"
        assert created["status"]["qosClass"] == "BestEffort"
        assert created["spec"]["nodeName"] == "testnode"
        assert mgr.synced[0]["metadata"]["uid"] == meta["uid"]
        r = await client.get(PODS + "/web")
        assert (await r.json())["metadata"]["uid"] == meta["uid"]
        r = await client.get(PODS)
        lst = await r.json()
        assert lst["kind"] == "PodList" and [p["metadata"]["name"] for p in lst["items"]] == ["web"]
        r = await client.get("/api/v1/pods")
        assert len((await r.json())["items"]) == 1
    run(body)


def test_not_found_and_already_exists_are_status_objects() -> None:
    async def body(client: Any, *_: Any) -> None:
        r = await client.get(PODS + "/nope")
        assert r.status == 404
        st = await r.json()
        assert st["kind"] == "Status" and st["reason"] == "NotFound"
        assert st["message"] == 'pods "nope" not found' and st["code"] == 404
        assert (await client.post(PODS, json=pod("web"))).status == 201
        r = await client.post(PODS, json=pod("web"))
        st = await r.json()
        assert r.status == 409 and st["reason"] == "AlreadyExists"
        assert st["message"] == 'pods "web" already exists'
        r = await client.delete(PODS + "/nope")
        assert r.status == 404
        r = await client.get("/api/v1/nothing/here")
        assert r.status == 404 and (await r.json())["kind"] == "Status"
        r = await client.patch(PODS + "/web", json={})
        assert r.status == 405 and (await r.json())["reason"] == "MethodNotAllowed"
    run(body)


def test_invalid_body_is_422_with_causes_and_bad_json_is_400() -> None:
    async def body(client: Any, *_: Any) -> None:
        bad = pod("web")
        bad["spec"]["containers"][0]["ports"] = [{"containerPort": "x"}]
        bad["spec"]["containers"][0]["image"] = 3
        r = await client.post(PODS, json=bad)
        st = await r.json()
        assert r.status == 422 and st["reason"] == "Invalid"
        fields = {c["field"] for c in st["details"]["causes"]}
        assert "spec.containers[0].image" in fields
        assert "spec.containers[0].ports[0].containerPort" in fields
        assert st["message"].startswith('Pod "web" is invalid: ')
        r = await client.post(PODS, data=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status == 400 and (await r.json())["reason"] == "BadRequest"
        r = await client.post(PODS, json={"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "x"}})
        assert r.status == 400
        other = pod("web")
        other["metadata"]["namespace"] = "other"
        r = await client.post(PODS, json=other)
        assert r.status == 400 and "namespace" in (await r.json())["message"]
    run(body)


def test_yaml_bodies_are_accepted() -> None:
    async def body(client: Any, *_: Any) -> None:
        r = await client.post(PODS, data=yaml.safe_dump(pod("y")).encode(),
                              headers={"Content-Type": "application/yaml"})
        assert r.status == 201
    run(body)


def test_field_validation_strict_warn_ignore() -> None:
    async def body(client: Any, store: Any, *_: Any) -> None:
        p = pod("web")
        p["spec"]["containers"][0]["foo"] = 1
        r = await client.post(PODS, json=p)
        st = await r.json()
        assert r.status == 400
        assert 'strict decoding error: unknown field "spec.containers[0].foo"' in st["message"]
        r = await client.post(PODS + "?fieldValidation=Warn", json=p)
        assert r.status == 201
        assert r.headers.getall("Warning") == ['299 - "unknown field \\"spec.containers[0].foo\\""']
        p["metadata"]["name"] = "web2"
        r = await client.post(PODS + "?fieldValidation=Ignore", json=p)
        assert r.status == 201 and "Warning" not in r.headers
        assert "foo" not in json.dumps(store.get("pods", "default", "web2"))
        r = await client.post(PODS + "?fieldValidation=Sometimes", json=p)
        assert r.status == 400
    run(body)


def test_body_over_3_mib_is_413() -> None:
    async def body(client: Any, *_: Any) -> None:
        big = pod("big")
        big["metadata"]["annotations"] = {"x": "a" * (schema.MAX_BODY_BYTES + 10)}
        import io
        r = await client.post(PODS, data=io.BytesIO(json.dumps(big).encode()),
                              headers={"Content-Type": "application/json"})
        assert r.status == 413
        assert (await r.json())["reason"] == "RequestEntityTooLarge"
    run(body)


def test_put_replaces_bumps_generation_and_detects_no_change() -> None:
    async def body(client: Any, store: Any, config: Any, mgr: Any) -> None:
        created = await (await client.post(PODS, json=pod("web"))).json()
        r = await client.put(PODS + "/web", json=pod("web"))
        same = await r.json()
        assert r.status == 200 and same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        changed = pod("web")
        changed["spec"]["containers"][0]["image"] = "busybox:2"
        new = await (await client.put(PODS + "/web", json=changed)).json()
        assert new["metadata"]["generation"] == 2
        assert new["metadata"]["uid"] == created["metadata"]["uid"]
        assert int(new["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
        assert mgr.synced[-1]["spec"]["containers"][0]["image"] == "busybox:2"
        stale = pod("web")
        stale["metadata"]["resourceVersion"] = "1"
        stale["spec"]["containers"][0]["image"] = "busybox:3"
        r = await client.put(PODS + "/web", json=stale)
        assert r.status == 409 and (await r.json())["reason"] == "Conflict"
        r = await client.put(PODS + "/other", json=pod("web"))
        assert r.status == 400
    run(body)


def test_delete_sets_deletion_timestamp_and_a_second_delete_only_shortens() -> None:
    mgr = FakeManager()

    async def body(client: Any, store: Any, config: Any, m: Any) -> None:
        m.release.clear()
        await client.post(PODS, json=pod("web"))
        r = await client.delete(PODS + "/web?gracePeriodSeconds=20")
        obj = await r.json()
        assert r.status == 200
        assert obj["metadata"]["deletionGracePeriodSeconds"] == 20
        assert obj["metadata"]["deletionTimestamp"]
        await asyncio.sleep(0.01)
        r = await client.delete(PODS + "/web?gracePeriodSeconds=25")
        assert (await r.json())["metadata"]["deletionGracePeriodSeconds"] == 20
        r = await client.delete(PODS + "/web?gracePeriodSeconds=5")
        assert (await r.json())["metadata"]["deletionGracePeriodSeconds"] == 5
        await asyncio.sleep(0.01)
        assert [g for _, g in m.terminated] == [20, 5]
        assert store.get("pods", "default", "web") is not None
        m.release.set()
        await config.wait_terminations()
        assert store.get("pods", "default", "web") is None
        assert (await client.get(PODS + "/web")).status == 404
    run(body, manager=mgr)


def test_delete_default_grace_is_the_pods() -> None:
    async def body(client: Any, store: Any, config: Any, m: Any) -> None:
        p = pod("web")
        p["spec"]["terminationGracePeriodSeconds"] = 7
        await client.post(PODS, json=p)
        await client.delete(PODS + "/web")
        await config.wait_terminations()
        assert m.terminated[0][1] == 7
    run(body)


def _lines(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(x) for x in raw.decode().splitlines() if x.strip()]


def test_watch_sees_added_modified_deleted_in_order() -> None:
    async def body(client: Any, store: Any, config: Any, m: Any) -> None:
        resp = await client.get(PODS + "?watch=true&resourceVersion=0")
        await client.post(PODS, json=pod("web"))
        changed = pod("web")
        changed["metadata"]["labels"] = {"app": "web", "v": "2"}
        await client.put(PODS + "/web", json=changed)
        await client.delete(PODS + "/web")
        await config.wait_terminations()
        events: list[dict[str, Any]] = []
        while len(events) < 4:
            line = await asyncio.wait_for(resp.content.readline(), 5)
            events.append(json.loads(line))
        types = [e["type"] for e in events]
        # ADDED (create), MODIFIED (labels), MODIFIED (deletionTimestamp), DELETED
        assert types == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert rvs == sorted(rvs) and len(set(rvs)) == 4
        resp.close()
    run(body)


def test_watch_resume_from_resource_version_and_selectors() -> None:
    async def body(client: Any, store: Any, config: Any, m: Any) -> None:
        a = await (await client.post(PODS, json=pod("a", app="x"))).json()
        await client.post(PODS, json=pod("b", app="y"))
        rv = a["metadata"]["resourceVersion"]
        resp = await client.get(PODS + f"?watch=1&resourceVersion={rv}&timeoutSeconds=1")
        evs = _lines(await resp.read())
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [("ADDED", "b")]
        resp = await client.get(PODS + "?watch=1&labelSelector=app%3Dx&timeoutSeconds=1")
        evs = _lines(await resp.read())
        assert [e["object"]["metadata"]["name"] for e in evs] == ["a"]
        resp = await client.get(PODS + "?watch=1&fieldSelector=metadata.name%3Db&timeoutSeconds=1")
        assert [e["object"]["metadata"]["name"] for e in _lines(await resp.read())] == ["b"]
        r = await client.get(PODS + "?labelSelector=app+in+(x,z)")
        assert [p["metadata"]["name"] for p in (await r.json())["items"]] == ["a"]
        r = await client.get(PODS + "?fieldSelector=spec.bogus%3D1")
        assert r.status == 400
    run(body)


def test_watch_from_too_old_version_is_an_expired_error_event() -> None:
    async def body(client: Any, store: Any, *_: Any) -> None:
        store._history_floor = 5
        store.rv = 10
        resp = await client.get(PODS + "?watch=1&resourceVersion=2")
        evs = _lines(await resp.read())
        assert evs[0]["type"] == "ERROR" and evs[0]["object"]["code"] == 410
    run(body)


def test_configmaps_and_secrets_crud() -> None:
    async def body(client: Any, store: Any, *_: Any) -> None:
        cms = "/api/v1/namespaces/default/configmaps"
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
              "data": {"k": "v"}}
        assert (await client.post(cms, json=cm)).status == 201
        cm["data"] = {"k": "w"}
        r = await client.put(cms + "/c", json=cm)
        assert (await r.json())["data"] == {"k": "w"}
        assert (await client.delete(cms + "/c")).status == 200
        assert (await client.get(cms + "/c")).status == 404
        secrets = "/api/v1/namespaces/default/secrets"
        s = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
             "stringData": {"user": "bob"}}
        got = await (await client.post(secrets, json=s)).json()
        assert got["data"] == {"user": "Ym9i"} and got["type"] == "Opaque"
        assert "stringData" not in got
        r = await client.get("/api/v1/secrets")
        assert [x["metadata"]["name"] for x in (await r.json())["items"]] == ["s"]
    run(body)


def test_events_are_listed_and_filtered() -> None:
    async def body(client: Any, store: Any, *_: Any) -> None:
        created = await (await client.post(PODS, json=pod("web"))).json()
        store.record_event(created, "Normal", "Pulled", "pulled")
        store.record_event(created, "Normal", "Pulled", "pulled")
        r = await client.get("/api/v1/namespaces/default/events")
        evs = (await r.json())["items"]
        assert len(evs) == 1 and evs[0]["count"] == 2
        assert evs[0]["involvedObject"]["uid"] == created["metadata"]["uid"]
        r = await client.get("/api/v1/events?fieldSelector=involvedObject.name%3Dother")
        assert (await r.json())["items"] == []
    run(body)


def test_logs_and_exec_without_engine_are_503() -> None:
    async def body(client: Any, *_: Any) -> None:
        await client.post(PODS, json=pod("web"))
        r = await client.get(PODS + "/web/log")
        st = await r.json()
        assert r.status == 503 and st["reason"] == "ServiceUnavailable"
        r = await client.get(PODS + "/web/exec?command=true",
                                           headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                    "Sec-WebSocket-Version": "13",
                                                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                    "Sec-WebSocket-Protocol": "v4.channel.k8s.io"})
        assert r.status == 503
        r = await client.get("/podrun/v1/images")
        assert r.status == 503 and "image service" in (await r.json())["message"]
    run(body)


def test_logs_pick_container_rules() -> None:
    async def body(client: Any, store: Any, config: Any, m: Any) -> None:
        p = pod("two")
        p["spec"]["containers"].append({"name": "b", "image": "busybox"})
        await client.post(PODS, json=p)
        r = await client.get(PODS + "/two/log")
        assert r.status == 400
        assert (await r.json())["message"] == "a container name must be specified for pod two, choose one of: [a b]"
        r = await client.get(PODS + "/two/log?container=zz")
        assert (await r.json())["message"] == "container zz is not valid for pod two"
        r = await client.get(PODS + "/two/log?container=b&tailLines=3&follow=true")
        assert r.status == 200 and await r.read() == b"hello\nworld\n"
        assert m.last_logs[1] == "b" and m.last_logs[2]["tail_lines"] == 3
        assert m.last_logs[2]["follow"] is True
    run(body, manager=FakeManager(engine=True))


def test_exec_stream_framing_and_exit_code() -> None:
    mgr = FakeManager(engine=True)
    mgr.exec_result = FakeExec([(1, b"out"), (2, b"err")], 3)

    async def body(client: Any, store: Any, config: Any, m: Any) -> None:
        await client.post(PODS, json=pod("web"))
        ws = await client.ws_connect(PODS + "/web/exec?command=sh&command=-c&command=x&stdin=true",
                                     protocols=("v5.channel.k8s.io",))
        await ws.send_bytes(b"\x00input")
        frames = []
        async for msg in ws:
            frames.append(msg.data)
        assert frames[0] == b"\x01out" and frames[1] == b"\x02err"
        st = json.loads(frames[2][1:])
        assert frames[2][0] == 3 and st["status"] == "Failure"
        assert st["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
        assert m.last_exec[2] == ["sh", "-c", "x"]
        await ws.close()
    run(body, manager=mgr)


def test_static_pod_cannot_be_deleted_or_replaced_through_the_api() -> None:
    async def body(client: Any, store: Any, config: Any, m: Any) -> None:
        static = pod("st-testnode")
        static["metadata"].update(namespace="default", uid="u1", annotations={
            "kubernetes.io/config.source": "file", "podrun.io/config.file": "/m/st.yaml"})
        await config.set_file_snapshot([static], [], [])
        r = await client.delete(PODS + "/st-testnode")
        assert r.status == 200
        assert "static pod from file /m/st.yaml" in r.headers["Warning"]
        assert not (await r.json())["metadata"].get("deletionTimestamp")
        assert store.get("pods", "default", "st-testnode") is not None
        r = await client.put(PODS + "/st-testnode", json=pod("st-testnode"))
        assert r.status == 403 and (await r.json())["reason"] == "Forbidden"
        r = await client.post(PODS, json=pod("st-testnode"))
        assert r.status == 409
    run(body)


def test_version_and_healthz() -> None:
    async def body(client: Any, *_: Any) -> None:
        assert await (await client.get("/healthz")).text() == "ok"
        v = await (await client.get("/version")).json()
        assert v["major"] == "1" and v["gitVersion"].startswith("v1.")
    run(body)


def test_peer_credentials_accept_root_only_or_allowed_groups() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    try:
        ok, why = peer_allowed(a, frozenset())
        import os
        if os.geteuid() == 0:
            assert ok
        else:
            assert not ok and "is not root" in why
            assert peer_allowed(a, frozenset({os.getegid()}))[0]
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("sel,labels,want", [
    ("app=web", {"app": "web"}, True),
    ("app!=web", {"app": "web"}, False),
    ("app in (a,web)", {"app": "web"}, True),
    ("app notin (a,web)", {"app": "web"}, False),
    ("app", {}, False),
    ("!app", {}, True),
    ("app=web,tier", {"app": "web"}, False),
])
def test_label_selectors(sel: str, labels: dict[str, str], want: bool) -> None:
    reqs = schema.parse_label_selector(sel)
    assert schema.selects({"metadata": {"labels": labels}}, reqs, []) is want


def test_warning_header_round_trip() -> None:
    text = 'unknown field "spec.x"'
    assert schema.parse_warning_header(schema.warning_header(text)) == [text]


def test_yaml_alias_bombs_and_syntax_errors_are_bad_requests() -> None:
    lines = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
    for i in range(8):
        prev, cur = chr(97 + i), chr(98 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    bomb = "\n".join(lines) + "\n"

    async def body(client: Any, *_: Any) -> None:
        for text in (bomb, "kind: Pod\n  bad: [indent\n"):
            r = await client.post(PODS, data=text.encode(),
                                  headers={"Content-Type": "application/yaml"})
            assert r.status == 400, await r.text()
            assert (await r.json())["reason"] == "BadRequest"
    run(body)


def test_put_may_change_images_but_not_the_rest_of_the_spec() -> None:
    async def body(client: Any, store: Any, config: Any, mgr: Any) -> None:
        await client.post(PODS, json=pod("web"))
        ports = pod("web")
        ports["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
        r = await client.put(PODS + "/web", json=ports)
        st = await r.json()
        assert r.status == 422
        assert st["details"]["causes"][0]["field"] == "spec"
        assert "pod updates may not change fields other than" in st["message"]
        more = pod("web")
        more["spec"]["activeDeadlineSeconds"] = 30
        more["spec"]["tolerations"] = [{"operator": "Exists"}]
        more["metadata"]["labels"] = {"app": "web", "new": "label"}
        assert (await client.put(PODS + "/web", json=more)).status == 200
        fewer = pod("web")
        r = await client.put(PODS + "/web", json=fewer)
        assert r.status == 422
        assert (await r.json())["details"]["causes"][0]["field"] == "spec.tolerations"
    run(body)


def test_table_output_for_server_side_printing() -> None:
    async def body(client: Any, *_: Any) -> None:
        await client.post(PODS, json=pod("web"))
        accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"}
        tbl = await (await client.get(PODS, headers=accept)).json()
        assert tbl["kind"] == "Table" and tbl["apiVersion"] == "meta.k8s.io/v1"
        names = [c["name"] for c in tbl["columnDefinitions"]]
        assert names == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                         "Nominated Node", "Readiness Gates"]
        assert [c["priority"] for c in tbl["columnDefinitions"]] == [0] * 5 + [1] * 4
        cells = tbl["rows"][0]["cells"]
        assert cells[:4] == ["web", "0/1", "Pending", "0"] and cells[6] == "testnode"
        assert tbl["rows"][0]["object"]["metadata"]["name"] == "web"
        one = await (await client.get(PODS + "/web", headers=accept)).json()
        assert one["kind"] == "Table" and len(one["rows"]) == 1
        plain = await (await client.get(PODS)).json()
        assert plain["kind"] == "PodList"
    run(body)
