"""The daemon's HTTP API (aiohttp over a root-only Unix socket): Kubernetes-shaped paths for
pods, configmaps, secrets and events, watch streams, logs and exec; errors as v1 Status.
docs/api.md is the reference for paths, parameters and the exec framing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import re
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from podrun import KUBE_VERSION, __version__
from podrun.agent import DaemonContext, EngineUnavailable, PodManager
from podrun.agent.sources import (
    FILE_PATH_ANNOTATION,
    SOURCE_FILE,
    PodConfig,
    decode_documents,
    pod_update_errors,
    source_of,
)
from podrun.agent.staticdir import normalize_secret
from podrun.agent.store import Expired, Store
from podrun.api import printers, schema
from podrun.errors import AlreadyExists, Conflict, NotFound, PodrunError

log = logging.getLogger("podrun.api")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
FIELD_VALIDATION = {"strict": "Strict", "warn": "Warn", "ignore": "Ignore"}
EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
WATCH_IDLE_CHECK = 5.0
API_KEY: web.AppKey[Any] = web.AppKey("api", object)
IMAGES_UNAVAILABLE = "the image service is not available yet in this podrun build"

# Limits against broken or hostile clients (docs/api.md, "Limits"; found by
# tests/integration/reliability/test_api_fuzz.py).
HEADER_TIMEOUT = 15.0     # a connection's request headers, and an idle keep-alive connection
BODY_TIMEOUT = 30.0       # a request body, once the headers are in
MAX_CONNECTIONS = 256     # open connections; more get 429 (each costs an fd and ~100 KiB)
LISTEN_BACKLOG = 1024     # connections waiting for accept() (a burst of CLI calls, a flood)
MAX_BODY_DECODES = 4      # bodies read and decoded at once (each up to MAX_BODY_BYTES)
MAX_YAML_BODY_BYTES = 512 * 1024  # PyYAML's pure-Python loader: ~1 ms a key on this host
MAX_NESTING = 100         # a Pod is ~12 levels deep; Python's recursion limit is 1000


class ApiError(Exception):
    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status.get("message", ""))
        self.status = status


def status_response(st: dict[str, Any]) -> web.Response:
    return web.json_response(st, status=st["code"])


def bad_request(message: str) -> ApiError:
    return ApiError(schema.status(400, message))


# ---------------------------------------------------------------- bodies


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 past `limit` bytes (announced or streamed), 408 when it does
    not arrive within BODY_TIMEOUT (a client that stalls mid-body holds no handler for
    ever)."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(too_large(limit))
    chunks: list[bytes] = []
    size = 0

    async def read_all() -> None:
        nonlocal size
        while chunk := await request.content.read(65536):
            size += len(chunk)
            if size > limit:
                raise ApiError(too_large(limit))
            chunks.append(chunk)

    try:
        await asyncio.wait_for(read_all(), BODY_TIMEOUT)
    except TimeoutError:
        raise ApiError(schema.status(
            408, f"the request body did not arrive within {BODY_TIMEOUT:.0f}s",
            reason="Timeout")) from None
    return b"".join(chunks)


def too_large(limit: int) -> dict[str, Any]:
    return schema.status(413, f"the request body is larger than {limit} bytes")


def too_deep() -> ApiError:
    return bad_request(f"the body of the request could not be decoded: it is nested deeper "
                       f"than {MAX_NESTING} levels")


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in a decoded body, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_NESTING:
            stack.extend((x, depth + 1) for x in v)
    return deepest


# ---------------------------------------------------------------- middlewares

def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return pid, uid, gid


def peer_groups(pid: int) -> set[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Groups:"):
                return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()


def peer_allowed(sock: socket.socket, allowed_gids: frozenset[int]) -> tuple[bool, str]:
    pid, uid, gid = peer_credentials(sock)
    if uid == 0:
        return True, ""
    if allowed_gids and (gid in allowed_gids or peer_groups(pid) & allowed_gids):
        return True, ""
    return False, (f"forbidden: peer uid {uid} (pid {pid}) is not root and not in a group "
                   "allowed by the daemon's allowedGroups setting")


def make_middlewares(allowed_gids: frozenset[int], check_peer: bool = True) -> list[Any]:
    @web.middleware
    async def peer_check(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if check_peer and sock is not None and sock.family == socket.AF_UNIX:
            ok, why = peer_allowed(sock, allowed_gids)
            if not ok:
                log.warning("rejected API peer: %s", why)
                return status_response(schema.status(403, why))
        return await handler(request)

    @web.middleware
    async def errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as e:
            resp = status_response(e.status)
            if e.status["code"] in (408, 413):
                resp.force_close()  # the rest of the body is not worth reading
            return resp
        except web.HTTPRequestEntityTooLarge:
            return status_response(schema.status(
                413, f"the request body is larger than {schema.MAX_BODY_BYTES} bytes"))
        except web.HTTPMethodNotAllowed as e:
            return status_response(schema.status(
                405, f"the server does not allow this method on the requested resource "
                     f"({e.method} {request.path})"))
        except web.HTTPNotFound:
            return status_response(schema.status(
                404, "the server could not find the requested resource"))
        except web.HTTPException:
            raise
        except NotFound as e:
            return status_response(schema.status(404, str(e)))
        except AlreadyExists as e:
            return status_response(schema.status(409, str(e), reason="AlreadyExists"))
        except Conflict as e:
            return status_response(schema.status(409, str(e), reason="Conflict"))
        except EngineUnavailable as e:
            return status_response(schema.status(503, str(e)))
        except Expired as e:
            return status_response(schema.status(410, str(e), reason="Expired"))
        except schema.SelectorError as e:
            return status_response(schema.status(400, str(e)))
        except PodrunError as e:
            return status_response(schema.status(400, str(e)))
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as e:
            log.exception("API handler failed: %s %s", request.method, request.path)
            return status_response(schema.status(500, f"internal error: {e}"))

    return [peer_check, errors]


# ---------------------------------------------------------------- the API

class Api:
    def __init__(self, ctx: DaemonContext, config: PodConfig, manager: PodManager,
                 images: Any = None) -> None:
        self.ctx = ctx
        self.store: Store = ctx.store
        self.config = config
        self.manager = manager
        self.images = images
        self._decode_slots = asyncio.Semaphore(MAX_BODY_DECODES)

    # ---------------------------------------------------------- helpers

    @staticmethod
    def _ns(request: web.Request) -> str:
        ns = request.match_info["ns"]
        if not _DNS_LABEL.match(ns):
            raise bad_request(f'invalid namespace "{ns}": a lowercase RFC 1123 label must '
                              "consist of lower case alphanumeric characters or '-'")
        return ns

    @staticmethod
    def _name(request: web.Request) -> str:
        return request.match_info["name"]

    def _get(self, resource: str, ns: str, name: str) -> dict[str, Any]:
        obj = self.store.get(resource, ns, name) if _DNS_SUBDOMAIN.match(name) else None
        if obj is None:
            raise ApiError(schema.not_found(resource, name))
        return obj

    @staticmethod
    def _bool(request: web.Request, key: str) -> bool:
        return request.query.get(key, "").lower() in ("true", "1", "yes")

    @staticmethod
    def _int(request: web.Request, key: str) -> int | None:
        v = request.query.get(key)
        if v is None or v == "":
            return None
        try:
            return int(v)
        except ValueError:
            raise bad_request(f'invalid value for {key}: "{v}" is not an integer') from None

    async def _body(self, request: web.Request, resource: str,
                    ns: str) -> tuple[dict[str, Any], list[str]]:
        """Decode and validate a v1 object body (JSON or YAML) as POST/PUT receive it.

        Decoding runs in a worker thread, at most MAX_BODY_DECODES at a time: a large body
        (PyYAML's loader takes ~1 ms per key here) must not stop the event loop, and the
        bodies held in memory at once stay bounded."""
        ctype = request.content_type or "application/json"
        if not any(t in ctype for t in ("json", "yaml", "octet-stream", "text/plain")):
            raise ApiError(schema.status(
                415, f'the body of the request was in an unknown format - accepted media '
                     f'types include: application/json, application/yaml (got "{ctype}")'))
        limit = schema.MAX_BODY_BYTES if "json" in ctype else MAX_YAML_BODY_BYTES
        fv_raw = request.query.get("fieldValidation", "Strict")
        fv = FIELD_VALIDATION.get(fv_raw.lower())
        if fv is None:
            raise bad_request(f'fieldValidation must be one of "Ignore", "Warn" or "Strict", '
                              f'got "{fv_raw}"')
        async with self._decode_slots:
            raw = await read_body(request, limit)
            return await asyncio.to_thread(self._decode_body, raw, ctype, resource, ns, fv)

    def _decode_body(self, raw: bytes, ctype: str, resource: str, ns: str,
                     fv: str) -> tuple[dict[str, Any], list[str]]:
        try:
            text = raw.decode("utf-8")
            if "json" in ctype:
                docs = [json.loads(text)]
            else:
                docs = self._yaml_documents(text)
        except (UnicodeDecodeError, ValueError) as e:
            raise bad_request(f"the body of the request could not be decoded: {e}") from None
        except RecursionError:  # deeper than Python's own limit
            raise too_deep() from None
        if len(docs) == 1 and nesting_depth(docs[0]) > MAX_NESTING:
            raise too_deep()
        if len(docs) != 1 or not isinstance(docs[0], dict):
            raise bad_request("the body of the request must be exactly one object")
        kind = docs[0].get("kind")
        want = schema.KINDS[resource]
        if kind != want:
            raise bad_request(f'the body has kind "{kind}" but the request path is for '
                              f"{resource} (kind {want})")
        meta = docs[0].get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        body_ns = meta.get("namespace")
        if body_ns and body_ns != ns:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        name = meta.get("name") or ""
        # Unknown fields are found while decoding: Strict turns them into a 400 before any
        # validation, as the API server's strict decoding does.
        decoded = decode_documents(json.dumps(docs[0]), "request body",
                                   field_validation="Warn" if fv == "Strict" else fv)
        doc = decoded[0]
        warnings = [schema.field_warning(w) for w in doc.warnings]
        if fv == "Strict" and warnings:
            raise bad_request(f'{want} in version "v1" cannot be handled as a {want}: strict '
                              f"decoding error: {', '.join(warnings)}")
        if doc.errors or doc.obj is None:
            raise ApiError(schema.invalid(want, str(name), doc.errors))
        obj = doc.obj
        obj.setdefault("metadata", {})["namespace"] = ns
        if resource == "secrets":
            obj = normalize_secret(obj)
        return obj, warnings

    @staticmethod
    def _yaml_documents(text: str) -> list[Any]:
        """YAML through spec.parse's loader (alias-bomb and size limits), not yaml.load."""
        from podrun.spec.parse import load_text
        recs = load_text(text, "request body", field_validation="Ignore")
        docs = []
        for rec in recs:
            if not isinstance(rec.raw, dict):
                msg = "; ".join(str(e) for e in rec.errors) or "not an object"
                raise bad_request(f"the body of the request could not be decoded: {msg}")
            docs.append(rec.raw)
        # Round-trip through JSON: YAML timestamps and the like become strings, as in JSON.
        return [json.loads(json.dumps(d, default=str)) for d in docs]

    @staticmethod
    def _respond(obj: dict[str, Any], code: int = 200,
                 warnings: list[str] | None = None) -> web.Response:
        resp = web.json_response(obj, status=code)
        for w in warnings or []:
            resp.headers.add("Warning", schema.warning_header(w))
        return resp

    # ---------------------------------------------------------- generic handlers

    async def list_or_watch(self, request: web.Request, resource: str,
                            all_namespaces: bool = False) -> web.StreamResponse:
        ns = None if all_namespaces else self._ns(request)
        labels = schema.parse_label_selector(request.query.get("labelSelector"))
        fields = schema.parse_field_selector(request.query.get("fieldSelector"))
        if self._bool(request, "watch"):
            return await self._watch(request, resource, ns, labels, fields)
        items = self.store.list(resource, ns, labels, fields)
        if _wants_table(request):
            return web.json_response(printers.table(resource, items, str(self.store.rv)))
        return web.json_response(schema.list_object(resource, items, str(self.store.rv)))

    async def _watch(self, request: web.Request, resource: str, ns: str | None,
                     labels: list[schema.Requirement],
                     fields: list[schema.Requirement]) -> web.StreamResponse:
        since = request.query.get("resourceVersion", "")
        timeout = self._int(request, "timeoutSeconds")
        resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                           "Transfer-Encoding": "chunked"})
        try:
            watcher = self.store.watch(resource, ns, since, labels, fields)
        except Expired as e:
            await resp.prepare(request)
            err = {"type": "ERROR", "object": schema.status(410, str(e), reason="Expired")}
            await resp.write((json.dumps(err) + "\n").encode())
            await resp.write_eof()
            return resp
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        try:
            while True:
                wait = WATCH_IDLE_CHECK
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        break
                try:
                    line = await asyncio.wait_for(watcher.next(), wait)
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                if line is None:
                    break
                await resp.write(line)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.close()
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    async def get_one(self, request: web.Request, resource: str) -> web.Response:
        obj = self._get(resource, self._ns(request), self._name(request))
        if _wants_table(request):
            return web.json_response(printers.table(resource, [obj], str(self.store.rv)))
        return web.json_response(obj)

    async def create(self, request: web.Request, resource: str) -> web.Response:
        ns = self._ns(request)
        obj, warnings = await self._body(request, resource, ns)
        meta = obj["metadata"]
        if not meta.get("name"):
            gen = meta.get("generateName")
            if not gen:
                raise ApiError(schema.invalid(schema.KINDS[resource], "", [
                    _field_error("metadata.name", "Required value: name or generateName is "
                                 "required")]))
            meta["name"] = gen + os.urandom(3).hex()[:5]
        if resource == "pods":
            existing = self.store.get("pods", ns, meta["name"])
            if existing is not None and source_of(existing) == SOURCE_FILE:
                raise ApiError(schema.already_exists("pods", meta["name"]))
            created = await self.config.api_create_pod(obj)
        else:
            ann = meta.get("annotations") or {}
            if source_of(obj) == SOURCE_FILE or FILE_PATH_ANNOTATION in ann:
                ann.pop("kubernetes.io/config.source", None)
                ann.pop(FILE_PATH_ANNOTATION, None)
            meta.pop("uid", None)
            created = self.store.create(resource, obj)
        return self._respond(created, 201, warnings)

    async def replace(self, request: web.Request, resource: str) -> web.Response:
        ns, name = self._ns(request), self._name(request)
        obj, warnings = await self._body(request, resource, ns)
        body_name = obj["metadata"].get("name")
        if body_name != name:
            raise bad_request(f"the name of the object ({body_name}) does not match the name "
                              f"on the URL ({name})")
        cur = self._get(resource, ns, name)
        if source_of(cur) == SOURCE_FILE:
            raise ApiError(self._static_forbidden(resource, cur, "updated"))
        if resource == "pods":
            spec = obj.setdefault("spec", {})
            if not spec.get("nodeName"):
                spec["nodeName"] = (cur.get("spec") or {}).get("nodeName")
            errs = pod_update_errors(cur, obj)
            if errs:
                raise ApiError(schema.invalid("Pod", name, errs))
            new, _ = await self.config.api_replace_pod(obj)
        else:
            new, _ = self.store.replace(resource, obj)
        return self._respond(new, 200, warnings)

    def _static_forbidden(self, resource: str, cur: dict[str, Any], verb: str) -> dict[str, Any]:
        path = (cur["metadata"].get("annotations") or {}).get(FILE_PATH_ANNOTATION, "")
        name = cur["metadata"]["name"]
        return schema.status(403, f'{resource} "{name}" is forbidden: it comes from the static '
                                  f"pod file {path} and cannot be {verb} through the API; "
                                  "edit or remove the file instead",
                             details={"name": name, "kind": resource})

    async def delete(self, request: web.Request, resource: str) -> web.Response:
        ns, name = self._ns(request), self._name(request)
        cur = self._get(resource, ns, name)
        grace = self._int(request, "gracePeriodSeconds")
        if grace is None and request.can_read_body:
            raw = await read_body(request, schema.MAX_BODY_BYTES)
            with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
                opts = json.loads(raw or b"{}")
                if isinstance(opts, dict) and isinstance(opts.get("gracePeriodSeconds"), int):
                    grace = opts["gracePeriodSeconds"]
        if source_of(cur) == SOURCE_FILE:
            if resource != "pods":
                raise ApiError(self._static_forbidden(resource, cur, "deleted"))
            # A static pod lives as long as its file: as with a mirror pod, deleting it
            # through the API does not stop it. Say so instead of pretending.
            path = (cur["metadata"].get("annotations") or {}).get(FILE_PATH_ANNOTATION, "")
            msg = (f'pod "{name}" is a static pod from file {path}: it keeps running and '
                   "comes back, like a mirror pod; remove the manifest file to delete it")
            self.store.record_event(cur, "Warning", "StaticPodNotDeleted", msg,
                                    host=self.ctx.node_name)
            return self._respond(cur, 200, [msg])
        if resource == "pods":
            pod = self.config.api_delete_pod(cur, grace)
            return self._respond(pod, 200)
        gone = self.store.remove(resource, ns, name)
        return self._respond(gone or cur, 200)

    # ---------------------------------------------------------- pod subresources

    def _container(self, pod: dict[str, Any], container: str | None) -> str:
        spec = pod.get("spec") or {}
        names = [str(c["name"]) for c in spec.get("containers") or []]
        inits = [str(c["name"]) for c in spec.get("initContainers") or []]
        eph = [str(c["name"]) for c in spec.get("ephemeralContainers") or []]
        podname = pod["metadata"]["name"]
        if not container:
            if len(names) == 1:
                return names[0]
            msg = (f"a container name must be specified for pod {podname}, choose one of: "
                   f"[{' '.join(names)}]")
            if inits:
                msg += f" or one of the init containers: [{' '.join(inits)}]"
            raise bad_request(msg)
        if container not in names + inits + eph:
            raise bad_request(f"container {container} is not valid for pod {podname}")
        return container

    async def pod_log(self, request: web.Request) -> web.StreamResponse:
        pod = self._get("pods", self._ns(request), self._name(request))
        container = self._container(pod, request.query.get("container"))
        it = self.manager.logs(
            pod["metadata"]["uid"], container, follow=self._bool(request, "follow"),
            previous=self._bool(request, "previous"),
            tail_lines=self._int(request, "tailLines"),
            timestamps=self._bool(request, "timestamps"),
            since_seconds=self._int(request, "sinceSeconds"),
            limit_bytes=self._int(request, "limitBytes"))
        aiter = it.__aiter__()
        # The first chunk comes before the headers so engine errors still become a Status.
        try:
            first = await aiter.__anext__()
        except StopAsyncIteration:
            first = b""
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        try:
            if first:
                await resp.write(first)
            async for chunk in aiter:
                await resp.write(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            return resp
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    async def pod_exec(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._pod_exec(request)
        except (ApiError, PodrunError) as e:
            # A WebSocket client sees only the headers of a refused upgrade: the Status goes
            # into X-Podrun-Status as well as the body.
            if isinstance(e, ApiError):
                st = e.status
            elif isinstance(e, EngineUnavailable):
                st = schema.status(503, str(e))
            elif isinstance(e, NotFound):
                st = schema.status(404, str(e))
            else:
                st = schema.status(400, str(e))
            resp = status_response(st)
            resp.headers["X-Podrun-Status"] = json.dumps(st, ensure_ascii=True)
            return resp

    async def _pod_exec(self, request: web.Request) -> web.StreamResponse:
        pod = self._get("pods", self._ns(request), self._name(request))
        container = self._container(pod, request.query.get("container"))
        command = request.query.getall("command", [])
        if not command:
            raise bad_request("you must specify at least one command for the container")
        stdin, tty = self._bool(request, "stdin"), self._bool(request, "tty")
        ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, max_msg_size=1 << 20)
        if not ws.can_prepare(request).ok:
            raise bad_request("exec needs a WebSocket upgrade with subprotocol "
                              "v5.channel.k8s.io or v4.channel.k8s.io")
        session = await self.manager.exec(pod["metadata"]["uid"], container, command,
                                          stdin=stdin, tty=tty)
        await ws.prepare(request)
        v5 = ws.ws_protocol == "v5.channel.k8s.io"

        async def pump_out() -> None:
            while (item := await session.read()) is not None:
                stream, data = item
                await ws.send_bytes(bytes([stream]) + data)

        async def pump_in() -> None:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY or not msg.data:
                    continue
                ch, data = msg.data[0], msg.data[1:]
                if ch == 0 and stdin:
                    await session.write_stdin(data)
                elif ch == 4:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        size = json.loads(data)
                        session.resize(int(size["Width"]), int(size["Height"]))
                elif ch == 255 and v5 and data[:1] == b"\x00":
                    await session.close_stdin()
            await session.kill()  # the client went away

        reader = asyncio.create_task(pump_in())
        try:
            await pump_out()
            code = await session.wait()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if code == 0:
            result = {"metadata": {}, "status": "Success"}
        else:
            result = {"metadata": {}, "status": "Failure",
                      "message": f"command terminated with non-zero exit code: {code}",
                      "reason": "NonZeroExitCode",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await ws.send_bytes(b"\x03" + json.dumps(result).encode())
            await ws.close()
        return ws

    async def pod_status(self, request: web.Request) -> web.Response:
        return await self.get_one(request, "pods")

    # ---------------------------------------------------------- misc

    async def version(self, request: web.Request) -> web.Response:
        major, minor = KUBE_VERSION.split(".")[:2]
        return web.json_response({
            "major": major, "minor": minor, "gitVersion": f"v{KUBE_VERSION}.0-podrun.{__version__}",
            "gitCommit": "", "gitTreeState": "", "buildDate": "",
            "goVersion": "", "compiler": f"cpython {platform.python_version()}",
            "platform": f"linux/{platform.machine()}", "podrunVersion": __version__,
            "nodeName": self.ctx.node_name,
        })

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def api_versions(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"],
                                  "serverAddressByClientCIDRs": []})

    async def api_resources(self, request: web.Request) -> web.Response:
        res = []
        for r, kind in schema.KINDS.items():
            res.append({"name": r, "singularName": schema.SINGULAR[r], "namespaced": True,
                        "kind": kind, "verbs": ["create", "delete", "get", "list", "update",
                                                "watch"]})
        res += [{"name": "pods/log", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
                {"name": "pods/exec", "namespaced": True, "kind": "PodExecOptions",
                 "verbs": ["create", "get"]}]
        return web.json_response({"kind": "APIResourceList", "groupVersion": "v1",
                                  "resources": res})

    # ---------------------------------------------------------- images

    async def images_unavailable(self, request: web.Request) -> web.Response:
        """The image routes while no image service is wired (podrun.image.api serves them
        when it is)."""
        raise EngineUnavailable(IMAGES_UNAVAILABLE)

    # ---------------------------------------------------------- routes

    def routes(self) -> list[web.RouteDef]:
        r: list[web.RouteDef] = [
            web.get("/healthz", self.healthz), web.get("/livez", self.healthz),
            web.get("/readyz", self.healthz), web.get("/version", self.version),
            web.get("/api", self.api_versions), web.get("/api/v1", self.api_resources),
        ]
        for res in ("pods", "configmaps", "secrets", "events"):
            base = f"/api/v1/namespaces/{{ns}}/{res}"
            r.append(web.get(f"/api/v1/{res}", _bind(self.list_or_watch, res, True)))
            r.append(web.get(base, _bind(self.list_or_watch, res)))
            r.append(web.get(base + "/{name}", _bind(self.get_one, res)))
            if res != "events":
                r.append(web.post(base, _bind(self.create, res)))
                r.append(web.put(base + "/{name}", _bind(self.replace, res)))
                r.append(web.delete(base + "/{name}", _bind(self.delete, res)))
        pod = "/api/v1/namespaces/{ns}/pods/{name}"
        r += [web.get(pod + "/log", self.pod_log), web.get(pod + "/exec", self.pod_exec),
              web.post(pod + "/exec", self.pod_exec), web.get(pod + "/status", self.pod_status)]
        r += self._image_routes()
        return r

    def _image_routes(self) -> list[web.RouteDef]:
        if self.images is not None:
            try:
                from podrun.image.api import image_routes
            except ImportError:
                log.error("podrun.image.api is missing: the image routes answer 503")
            else:
                return list(image_routes(self.images))
        return [web.get("/podrun/v1/images", self.images_unavailable),
                web.post("/podrun/v1/images/pull", self.images_unavailable),
                web.post("/podrun/v1/images/import", self.images_unavailable),
                web.delete("/podrun/v1/images/{ref:.+}", self.images_unavailable)]


def _bind(fn: Callable[..., Awaitable[web.StreamResponse]], *args: Any) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await fn(request, *args)
    return handler


def _wants_table(request: web.Request) -> bool:
    """kubectl's server-side printing: Accept: application/json;as=Table;g=meta.k8s.io."""
    return "as=Table" in request.headers.get("Accept", "")


def _field_error(path: str, message: str) -> Any:
    from podrun.errors import FieldError
    return FieldError(path, message)


def create_app(ctx: DaemonContext, config: PodConfig, manager: PodManager, *,
               allowed_gids: frozenset[int] = frozenset(), images: Any = None,
               check_peer: bool = True) -> web.Application:
    """The API application; check_peer=False only for tests that run unprivileged."""
    app = web.Application(client_max_size=schema.MAX_BODY_BYTES,
                          middlewares=make_middlewares(allowed_gids, check_peer))
    api = Api(ctx, config, manager, images)
    app[API_KEY] = api
    app.add_routes(api.routes())

    async def on_shutdown(app: web.Application) -> None:
        ctx.store.close_watchers()

    app.on_shutdown.append(on_shutdown)
    return app


async def serve_unix(app: web.Application, path: Path, *, mode: int = 0o600,
                     group: int | None = None) -> web.AppRunner:
    """Listen on a Unix socket created with `mode` from the start (umask), never wider."""
    # keepalive_timeout also starts when a connection opens: headers that do not arrive
    # within it (slowloris) close the connection, as an idle keep-alive one
    # Open log-follow and exec streams get 5 s at shutdown, not aiohttp's 60.
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           keepalive_timeout=HEADER_TIMEOUT, shutdown_timeout=5.0)
    await runner.setup()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    old = os.umask(0o777 & ~mode)
    try:
        # a burst of clients must queue, not see EAGAIN (aiohttp's default backlog is 128;
        # the kernel caps it at net.core.somaxconn)
        site = _LimitedUnixSite(runner, str(path), backlog=LISTEN_BACKLOG)
        await site.start()
    finally:
        os.umask(old)
    if group is not None:
        os.chown(path, 0, group)
    os.chmod(path, mode)
    return runner


class _Refuse(asyncio.Protocol):
    """A connection over MAX_CONNECTIONS: one 429 Status (the API server's answer when
    max-requests-inflight is reached), then closed. The request is read and dropped for at
    most a second first: closing with it unread would make the client's recv fail with
    ECONNRESET before it sees the answer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        body = json.dumps(schema.status(
            429, f"too many open connections to the podrun API (at most {MAX_CONNECTIONS})",
            details={"retryAfterSeconds": 1})).encode()
        head = (f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                f"Retry-After: 1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        assert isinstance(transport, asyncio.Transport)
        transport.write(head.encode() + body)
        transport.write_eof()
        asyncio.get_running_loop().call_later(1.0, transport.close)

    def eof_received(self) -> bool:
        return False  # the client is done: close


class _RequestHandler(RequestHandler):
    """aiohttp's connection handler, except that a request its HTTP parser refuses (bad
    method, raw bytes in the path, an oversized header) gets a v1 Status like every other
    error, and is logged at debug level rather than with a traceback each time: a broken or
    hostile client must not fill the daemon's log."""

    __slots__ = ()

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started, cannot send the error")
        why = (message or str(exc) or "").strip().splitlines()
        log.debug("refused an HTTP request (%d): %s", status, exc)
        if status >= 500:
            log.error("API request failed: %s", exc, exc_info=exc)
            text = f"internal error: {why[0] if why else status}"
        else:
            text = f"the request could not be parsed: {why[0] if why else 'bad request'}"
        resp = status_response(schema.status(status, text))
        resp.force_close()
        return resp


class _LimitedUnixSite(web.UnixSite):
    """UnixSite whose connections beyond MAX_CONNECTIONS are refused: idle or slow clients
    cannot take every file descriptor of the daemon."""

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        # Connections accepted in one batch (up to the backlog) get their protocols before
        # any connection_made has added them to server.connections: count those in flight.
        accepting = 0

        def accepted() -> None:
            nonlocal accepting
            accepting -= 1

        def protocol() -> asyncio.BaseProtocol:
            nonlocal accepting
            if len(server.connections) + accepting >= MAX_CONNECTIONS:
                return _Refuse()
            accepting += 1
            loop.call_soon(accepted)  # runs just before the handler's connection_made
            return _RequestHandler(server, loop=loop, **server._kwargs)

        self._server = await loop.create_unix_server(
            protocol, self._path, backlog=self._backlog)
