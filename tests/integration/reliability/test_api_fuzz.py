"""API fuzzing against a real daemon over its Unix socket (issue 11 part 5): seeded random
requests (methods, paths, query strings, content types, random JSON, mutated objects, huge
bodies, deep nesting, invalid UTF-8, YAML bombs, malformed HTTP), slow and idle clients,
connection floods. The daemon never crashes (same pid, /healthz answers), every error a
parsable request gets is a v1 Status with a 4xx code that says what was wrong (no 500),
two pods running before are undisturbed (same container, same restart count) and the
daemon's RSS stays bounded.

PODRUN_API_FUZZ_REQUESTS (default 1000; `tests/run --full`: 10000), PODRUN_API_FUZZ_SEED
(default: random; printed, with a replay command, on failure).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest

from podrun.api import server
from tests.integration.pods.conftest import PodDaemon
from tests.integration.reliability.conftest import leak_kinds, pod_manifest, run_doctor

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

REQUESTS = int(os.environ.get("PODRUN_API_FUZZ_REQUESTS", "1000"))
# Codes a well-formed but wrong request may get (the API server's): bad request, not found,
# method not allowed, conflict/exists, gone, too large, unsupported type, invalid, and 503
# for a pod operation the engine cannot do yet (exec/logs of a pod without containers).
STATUS_CODES = {400, 403, 404, 405, 408, 409, 410, 413, 415, 422, 503}
# Malformed HTTP never reaches a handler: what aiohttp's parser refuses gets 400 (or
# 413/431 for oversized parts), also as a v1 Status, and the connection is closed.
PARSER_CODES = {400, 413, 431}
# RSS bound: bodies are read and decoded at most MAX_BODY_DECODES at a time, each at most
# MAX_BODY_BYTES (3 MiB; YAML 512 KiB, ~30x as Python objects), connections at most
# MAX_CONNECTIONS x ~100 KiB of buffers. CPython keeps freed arenas, so the peak stays in
# the RSS: 4 x (3 + 3 x 3) MiB of bodies and decoded copies + 25 MiB of buffers ~ 75 MiB.
RSS_BOUND = 80 * 2**20
STEADY = ("steady-0", "steady-1")
NAMESPACES = ["default", "fuzz", "kube-system", "", "UPPER", "a" * 70, "ns%2F..", "-x", "ü"]
NAMES = ["fuzz-a", "fuzz-b", "x", "", "a" * 300, "..", "%00", "name with space", "ü",
         "fuzz.c", "-bad-"]
RESOURCES = ["pods", "configmaps", "secrets", "events", "services", "nodes", "pods/log",
             "pods/exec", "pods/status", "images"]
METHODS = ["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
           "TRACE", "CONNECT", "FOO", "get"]
CTYPES = ["application/json", "application/json", "application/yaml", "text/yaml",
          "text/plain", "application/octet-stream", "multipart/form-data; boundary=x",
          "application/x-www-form-urlencoded", "image/png", "", "application/json; charset=latin1",
          "application/strategic-merge-patch+json", "garbage/\x7f"]
QUERY_KEYS = ["watch", "timeoutSeconds", "labelSelector", "fieldSelector", "resourceVersion",
              "fieldValidation", "gracePeriodSeconds", "container", "follow", "tailLines",
              "limitBytes", "sinceSeconds", "previous", "command", "stdin", "tty", "force",
              "progress", "name", "x" * 50, ""]
QUERY_VALUES = ["true", "false", "1", "0", "-1", "99999999999999999999", "a=b", "!x",
                "app in (a,b", "metadata.name=x", "Strict", "Ignore", "warn", "%ZZ", "",
                "x" * 3000, "\u00fc", "1e9", "null"]


# ---- one request on a fresh connection ------------------------------------------------------


@dataclass
class Answer:
    code: int | None  # None: the daemon closed without an answer
    ctype: str = ""
    body: bytes = b""


def send(path: str, data: bytes, timeout: float = 30.0) -> Answer:
    method = data.split(b" ", 1)[0].decode("latin-1")
    """Write raw bytes, read the response head and (for errors) the whole body; a 2xx body
    is read for at most a moment (watches and log follows stream)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered (413) and closed before it had read everything
        r = http.client.HTTPResponse(s, method=method)
        try:
            r.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError,
                http.client.BadStatusLine):
            return Answer(None)
        if r.status < 400 and r.getheader("Content-Length") is None:
            s.settimeout(0.5)
            try:
                body = r.read(4096) if r.status != 204 else b""
            except (TimeoutError, http.client.IncompleteRead):
                body = b""
        else:
            body = r.read()
        return Answer(r.status, r.getheader("Content-Type") or "", body)
    finally:
        s.close()


def http_request(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    for k, v in headers.items():
        head += f"{k}: {v}\r\n"
    if body or method in ("POST", "PUT"):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


# ---- generators ------------------------------------------------------------------------------


def rand_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "str", "list", "dict"]
    k = rng.choice(kinds if depth < 5 else kinds[:5])
    if k == "null":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "int":
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**64), rng.randint(-1000, 1000)])
    if k == "float":
        return rng.choice([0.5, -1e308, 1e-300, 3.0])
    if k == "str":
        return rng.choice(["", "x", "ü" * 3, "a" * 1000, "\u0000", "${X}", "123", "-"])
    if k == "list":
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["kind", "apiVersion", "metadata", "spec", "name", "containers", "image", "data",
            "x", "", "namespace", "labels", "status"]
    return {rng.choice(keys): rand_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def base_object(rng: random.Random, resource: str) -> dict[str, Any]:
    name = rng.choice(NAMES[:3])  # few names: few objects get created
    if resource == "configmaps":
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                "data": {"k": "v"}}
    if resource == "secrets":
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                "data": {"k": base64.b64encode(b"v").decode()}}
    # an image that never exists: a pod that gets created does not run anything
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "localhost/fuzz-nosuch:1"}]}}


PATHS_IN_OBJECT = [("metadata", "name"), ("metadata", "labels"), ("metadata", "namespace"),
                   ("metadata", "annotations"), ("spec",), ("spec", "containers"),
                   ("spec", "restartPolicy"), ("spec", "volumes"), ("data",), ("kind",),
                   ("apiVersion",), ("metadata",), ("spec", "hostNetwork"), ("status",)]


def mutate(rng: random.Random, obj: dict[str, Any]) -> dict[str, Any]:
    for _ in range(rng.randint(0, 3)):
        path = rng.choice(PATHS_IN_OBJECT)
        cur: Any = obj
        for p in path[:-1]:
            if not isinstance(cur, dict):
                break
            cur = cur.setdefault(p, {})
        if isinstance(cur, dict):
            cur[path[-1]] = rand_json(rng)
    return obj


def body_for(rng: random.Random, resource: str) -> tuple[bytes, str]:
    """(body, what) for a POST/PUT: mostly objects and near-objects, some hostile."""
    choice = rng.choices(
        ["object", "mutated", "json", "deep", "huge", "utf8", "yaml", "bomb", "truncated",
         "empty", "list"], [3, 6, 3, 1, 1, 1, 2, 1, 1, 1, 1])[0]
    obj = base_object(rng, resource.split("/")[0])
    if choice == "object":
        return json.dumps(obj).encode(), choice
    if choice == "mutated":
        return json.dumps(mutate(rng, obj)).encode(), choice
    if choice == "json":
        return json.dumps(rand_json(rng)).encode(), choice
    if choice == "deep":
        n = rng.choice([101, 999, 5000, 200000])
        return ('{"a":' * n + "1" + "}" * n).encode() if rng.random() < 0.5 else \
            ("[" * n + "]" * n).encode(), choice
    if choice == "huge":
        n = rng.choice([3 * 2**20 + 1, 5 * 2**20])
        return json.dumps({**obj, "pad": "x" * n}).encode(), choice
    if choice == "utf8":
        raw = json.dumps(obj).encode()
        i = rng.randrange(len(raw))
        return raw[:i] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00"]) + raw[i:], \
            choice
    if choice == "yaml":
        return json.dumps(mutate(rng, obj)).replace('", "', '",\n "').encode(), choice
    if choice == "bomb":
        lol = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        lol += "".join(f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, "
                       f"*a{i-1}, *a{i-1}, *a{i-1}]\n" for i in range(1, 9))
        return (lol + "kind: Pod\n").encode(), choice
    if choice == "truncated":
        raw = json.dumps(obj).encode()
        return raw[: rng.randrange(len(raw))], choice
    if choice == "empty":
        return b"", choice
    return json.dumps([obj, obj]).encode(), choice


def target(rng: random.Random) -> str:
    ns, name, res = rng.choice(NAMESPACES), rng.choice(NAMES), rng.choice(RESOURCES)
    shape = rng.choice(["coll", "one", "sub", "all", "random", "known"])
    if shape == "coll":
        path = f"/api/v1/namespaces/{ns}/{res}"
    elif shape == "one":
        path = f"/api/v1/namespaces/{ns}/{res}/{name}"
    elif shape == "sub":
        path = f"/api/v1/namespaces/{ns}/pods/{rng.choice(NAMES + list(STEADY))}/" + \
            rng.choice(["log", "exec", "status", "attach", "portforward", ""])
    elif shape == "all":
        path = f"/api/v1/{res}"
    elif shape == "known":
        path = rng.choice(["/healthz", "/version", "/api", "/api/v1", "/livez", "/readyz",
                           "/podrun/v1/images", "/podrun/v1/images/pull",
                           "/podrun/v1/images/import", "/podrun/v1/images/x"])
    else:
        segs = ["api", "v1", "..", ".", "", "%2e%2e", "namespaces", "%00", "ü", "x" * 200]
        path = "/" + "/".join(rng.choice(segs) for _ in range(rng.randint(0, 8)))
    if rng.random() < 0.5:
        q = []
        for _ in range(rng.randint(1, 4)):
            key, value = rng.choice(QUERY_KEYS), rng.choice(QUERY_VALUES)
            q.append(f"{key}={value}")
        if any(x.startswith(("watch=", "follow=")) for x in q):
            q.append("timeoutSeconds=1")  # a watch that streams ends; follow: read briefly
        path += "?" + "&".join(q)
    return path.replace(" ", "%20")


def malformed(rng: random.Random) -> bytes:
    """Requests aiohttp's HTTP parser itself refuses."""
    return rng.choice([
        b"GARBAGE\r\n\r\n",
        bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) + b"\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) +
        b"\r\n",
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nTransfer-Encoding: chunked"
        b"\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nContent-Length: 1\r\n"
        b"Content-Length: 2\r\n\r\nab",
        b"GET /healthz HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    ])


# ---- checks ----------------------------------------------------------------------------------


@dataclass
class Tally:
    codes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    created: set[tuple[str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, key: str) -> None:
        with self.lock:
            self.codes[key] += 1

    def problem(self, what: str, req: bytes, ans: Answer) -> None:
        if len(self.problems) < 20:
            self.problems.append(f"{what}: {ans.code} {ans.body[:300]!r} for "
                                 f"{req[:300]!r}")


def check_api_answer(t: Tally, req: bytes, ans: Answer) -> None:
    """A request aiohttp could parse: 2xx, or a v1 Status whose code is the HTTP status."""
    t.count(str(ans.code))
    if ans.code is None:
        t.problem("closed without an answer", req, ans)
        return
    if ans.code < 400:
        return
    if ans.code not in STATUS_CODES:
        t.problem("unexpected code", req, ans)
    if not req.startswith(b"HEAD "):  # no body
        check_status(t, req, ans)


def check_status(t: Tally, req: bytes, ans: Answer) -> None:
    try:
        st = json.loads(ans.body)
    except ValueError:
        t.problem("error body is not JSON", req, ans)
        return
    if not (isinstance(st, dict) and st.get("kind") == "Status" and st.get("apiVersion") == "v1"
            and st.get("status") == "Failure" and st.get("code") == ans.code
            and st.get("message") and isinstance(st.get("reason"), str)):
        t.problem("error is not a v1 Status with the HTTP code", req, ans)


OBJECT_ROUTE = re.compile(r"^(POST|PUT) /api/v1/namespaces/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/"
                          r"(pods|configmaps|secrets)(/[a-z0-9.-]+)?(\?[ -~]*)? HTTP/1.1\r\n")


def check_body_answer(t: Tally, what: str, method: str, req: bytes, ans: Answer) -> None:
    """What a hostile body must get when it reaches the body decoder: a POST or PUT of an
    object route, in a well-formed request."""
    if not OBJECT_ROUTE.match(req.decode("latin-1")) or b"garbage/" in req:
        return
    want = {"huge": {413}, "deep": {400, 413}, "utf8": {400}, "bomb": {400, 413, 422},
            "truncated": {400}, "empty": {400}, "list": {400}}.get(what)
    # 404/405: no such route; 415: the content type was refused before the body was read
    if want and method in ("POST", "PUT") and ans.code is not None and ans.code not in want \
            and ans.code not in (404, 405, 415):
        t.problem(f"{what} body: expected {sorted(want)}", req, ans)


def fuzz(d: PodDaemon, rng: random.Random, n: int, t: Tally) -> None:
    sock = str(d.socket)
    for _ in range(n):
        if rng.random() < 0.05:
            req = malformed(rng)
            ans = send(sock, req)
            t.count("parser:" + str(ans.code))
            if ans.code is not None and ans.code not in PARSER_CODES:
                t.problem("malformed request", req, ans)
            elif ans.code is not None:
                check_status(t, req, ans)
            continue
        method = rng.choice(METHODS)
        path = target(rng)
        headers: dict[str, str] = {}
        ctype = rng.choice(CTYPES)
        if ctype:
            headers["Content-Type"] = ctype
        if rng.random() < 0.1:
            headers["Accept"] = rng.choice(["application/json;as=Table;g=meta.k8s.io;v=v1",
                                            "*/*", "text/html", "application/yaml"])
        body, what = b"", ""
        if method in ("POST", "PUT", "DELETE", "PATCH") and rng.random() < 0.9:
            segs = path.split("?")[0].split("/")
            res = next((x for x in segs if x in ("pods", "configmaps", "secrets")), "pods")
            body, what = body_for(rng, res)
        if method in ("PUT", "DELETE", "POST") and any(s in path for s in STEADY):
            method = "GET"  # the fuzzer never touches the pods it watches
            body = b""
        req = http_request(method, path, headers, body)
        ans = send(sock, req)
        check_api_answer(t, req, ans)
        check_body_answer(t, what, method, req, ans)
        if ans.code == 201 and method == "POST":
            try:
                obj = json.loads(ans.body)
            except ValueError:
                obj = None
            res = path.split("?")[0].rstrip("/").split("/")[-1]
            if isinstance(obj, dict):
                md = obj.get("metadata") or {}
                with t.lock:
                    t.created.add((res, md.get("namespace", ""), md.get("name", "")))


def cleanup_created(d: PodDaemon, t: Tally) -> None:
    for res, ns, name in sorted(t.created):
        send(str(d.socket), http_request(
            "DELETE", f"/api/v1/namespaces/{ns}/{res}/{name}?gracePeriodSeconds=0", {}, b""))


# ---- the pods that must not notice --------------------------------------------------------


def steady_pods(d: PodDaemon) -> dict[str, tuple[Any, ...]]:
    """Per steady pod: phase, container id, restart count, startedAt."""
    out = {}
    for name in STEADY:
        st = d.status(name)
        cs = (st.get("containerStatuses") or [{}])[0]
        out[name] = (st.get("phase"), cs.get("containerID"), cs.get("restartCount"),
                     (cs.get("state") or {}).get("running", {}).get("startedAt"))
    return out


STEADY_SCRIPT = "i=0; while :; do echo $i; i=$((i+1)); sleep 0.2; done"


@pytest.fixture
def steady(pods: PodDaemon) -> Iterator[PodDaemon]:
    for name in STEADY:
        pods.apply(pod_manifest(name, ["sh", "-c", STEADY_SCRIPT]))
    for name in STEADY:
        pods.wait_phase(name, "Running")
    yield pods


def healthz(d: PodDaemon) -> float:
    t0 = time.monotonic()
    ans = send(str(d.socket), http_request("GET", "/healthz", {}, b""), timeout=10)
    assert ans.code == 200 and ans.body == b"ok", ans
    return time.monotonic() - t0


def assert_undisturbed(d: PodDaemon, pid: int, before: dict[str, tuple[Any, ...]]) -> None:
    assert d.proc is not None and d.proc.poll() is None and d.proc.pid == pid, \
        f"the daemon died:\n{d.log_text()[-3000:]}"
    healthz(d)
    after = steady_pods(d)
    assert after == before, f"steady pods changed: {before} -> {after}"
    assert all(v[0] == "Running" for v in after.values()), after


def assert_clean(d: PodDaemon) -> None:
    d.delete_all()
    rc, doc = run_doctor(d, "--min-age", "0")
    assert rc == 0, f"doctor: {leak_kinds(doc)}"


# ---- the tests -------------------------------------------------------------------------------


def test_fuzzed_requests(steady: PodDaemon) -> None:
    d = steady
    seed = int(os.environ.get("PODRUN_API_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    replay = (f"PODRUN_API_FUZZ_SEED={seed} PODRUN_API_FUZZ_REQUESTS={REQUESTS} .venv/bin/python "
              "-m pytest -p no:cacheprovider tests/integration/reliability/test_api_fuzz.py"
              "::test_fuzzed_requests")
    assert d.proc is not None
    pid = d.proc.pid
    proc = psutil.Process(pid)
    before = steady_pods(d)
    rss0 = proc.memory_info().rss
    t = Tally()
    t0 = time.monotonic()
    # the bulk from one client, then the same generator from 8 at once (a flood)
    fuzz(d, random.Random(seed), REQUESTS // 2, t)
    threads = [threading.Thread(target=fuzz, args=(d, random.Random(seed + i + 1),
                                                   REQUESTS // 16, t)) for i in range(8)]
    for th in threads:
        th.start()
    lat = []
    while any(th.is_alive() for th in threads):
        lat.append(healthz(d))
        time.sleep(0.2)
    for th in threads:
        th.join()
    took = time.monotonic() - t0
    rss1 = proc.memory_info().rss
    cleanup_created(d, t)
    total = sum(t.codes.values())
    print(f"\nAPI fuzz seed {seed}: {total} requests in {took:.0f}s; codes "
          f"{dict(sorted(t.codes.items()))}; created {len(t.created)}; /healthz during the "
          f"flood max {max(lat, default=0):.3f}s; daemon RSS {rss0 / 2**20:.1f} -> "
          f"{rss1 / 2**20:.1f} MiB")
    try:
        assert total >= REQUESTS - 16, total
        assert not t.problems, "\n".join(t.problems)
        assert_undisturbed(d, pid, before)
        assert rss1 - rss0 < RSS_BOUND, (rss0, rss1)
        assert max(lat, default=0) < 2.0, lat
    except AssertionError as e:
        raise AssertionError(f"{e}\n(seed {seed}; replay: {replay})") from e
    assert_clean(d)


def _open(path: str) -> socket.socket:
    """A connection; EAGAIN means the listen backlog is full for a moment: try again."""
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _received(s: socket.socket) -> bytes:
    """What the daemon has sent so far (it may keep the connection open a while: after an
    error it reads and discards the rest of a body for aiohttp's lingering_time)."""
    s.settimeout(0.2)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _closed_by_daemon(s: socket.socket) -> bytes | None:
    """What the daemon sent before closing; None while it keeps the connection open."""
    s.settimeout(0.05)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return data


def _track(opened: list[socket.socket], s: socket.socket) -> socket.socket:
    opened.append(s)
    return s


def _slow_clients(d: PodDaemon, opened: list[socket.socket]) -> tuple[list[float],
                                                                      list[bytes], int]:
    """Idle, slow-header and stalled-body connections, then a connection flood; returns the
    /healthz latencies meanwhile, the refusals and the number of flood connections."""
    path = str(d.socket)
    idle = [_track(opened, _open(path)) for _ in range(100)]
    slow_head = [_track(opened, _open(path)) for _ in range(5)]
    slow_body = [_track(opened, _open(path)) for _ in range(3)]
    for s in slow_body:
        s.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"kind\"")
    t0 = time.monotonic()
    lat = []
    head = b"GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 64
    i = 0
    while time.monotonic() - t0 < server.HEADER_TIMEOUT + 3:
        for s in slow_head:
            try:
                s.sendall(head[i:i + 1])
            except OSError:
                pass
        i += 1
        lat.append(healthz(d))
        time.sleep(0.5)
    assert max(lat) < 1.0, lat
    dropped = [_closed_by_daemon(s) for s in idle + slow_head]
    assert all(x == b"" for x in dropped), \
        f"{sum(x is None for x in dropped)} slow/idle connections still open"
    body_wait = server.BODY_TIMEOUT - (time.monotonic() - t0) + 2
    time.sleep(max(0.0, body_wait))
    answers = [_received(s) for s in slow_body]
    assert all(a.startswith(b"HTTP/1.1 408") and b'"kind":"Status"' in a.replace(b" ", b"")
               for a in answers), answers
    # a flood of connections beyond the limit
    conns = [_track(opened, _open(path)) for _ in range(server.MAX_CONNECTIONS + 40)]
    time.sleep(0.5)
    refused = [a for a in (_closed_by_daemon(s) for s in conns) if a]
    assert len(refused) >= 30, len(refused)
    st = json.loads(refused[0].split(b"\r\n\r\n", 1)[1])
    assert refused[0].startswith(b"HTTP/1.1 429") and st["code"] == 429 \
        and st["reason"] == "TooManyRequests", refused[0]
    return lat, refused, len(conns)


def test_slow_and_idle_clients_and_a_connection_flood(steady: PodDaemon) -> None:
    """Slowloris: idle connections, headers a byte a second, a body that stalls. The daemon
    keeps answering others meanwhile, drops the slow ones after HEADER_TIMEOUT /
    BODY_TIMEOUT (the body one with a 408 Status), and refuses connections beyond
    MAX_CONNECTIONS with a 429 Status instead of running out of file descriptors."""
    d = steady
    assert d.proc is not None
    pid = d.proc.pid
    before = steady_pods(d)
    opened: list[socket.socket] = []
    try:
        lat, refused, total = _slow_clients(d, opened)
    finally:
        for s in opened:
            s.close()
    time.sleep(0.5)
    print(f"\nslow clients: /healthz max {max(lat):.3f}s with 108 slow/idle connections; "
          f"idle and slow-header ones closed after {server.HEADER_TIMEOUT:.0f}s, slow bodies "
          f"408 after {server.BODY_TIMEOUT:.0f}s; {len(refused)} of {total} connections "
          f"refused with 429")
    assert_undisturbed(d, pid, before)
    assert_clean(d)
