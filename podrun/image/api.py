"""The image routes of the daemon API, over an ImageService (blocking work runs in threads):

    GET    /podrun/v1/images                 {"kind": "ImageList", "items": [CRI-shaped image]}
    POST   /podrun/v1/images/pull            body {"image": REF, "platform"?: "linux/amd64",
                                             "auth"?: {"username", "password"}}
                                             ?progress=true streams NDJSON lines:
                                             {"type": "progress", "layer", "done", "total"},
                                             then {"type": "result", "image": {...}} or
                                             {"type": "error", "status": v1 Status}
    POST   /podrun/v1/images/import?name=REF body: an oci-archive or docker-archive tarball
    DELETE /podrun/v1/images/{ref}           {"deleted": [names]}

Errors are v1 Status objects: invalid reference 400, pull access denied 403, not found /
manifest unknown 404, in use 409, unsafe or invalid image 422, registry trouble 502.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

from aiohttp import web

from podrun.api.reasons import REASONS
from podrun.errors import HostError
from podrun.image.auth import Credentials
from podrun.image.errors import (
    ImageError,
    ImageInUse,
    ImageNotFound,
    InvalidReference,
    ManifestUnknown,
    PullAccessDenied,
    RegistryError,
)
from podrun.image.service import ImageService

# the API's StatusReasons, plus the registry's failure, which Kubernetes has no reason for
_REASONS = {**REASONS, 502: "BadGateway"}


def error_status(e: BaseException) -> dict[str, Any]:
    code = (400 if isinstance(e, InvalidReference) else
            403 if isinstance(e, PullAccessDenied) else
            404 if isinstance(e, ImageNotFound | ManifestUnknown) else
            409 if isinstance(e, ImageInUse) else
            502 if isinstance(e, RegistryError) else
            422 if isinstance(e, ImageError) else 500)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": str(e), "reason": _REASONS[code], "code": code}


def _fail(e: BaseException) -> web.Response:
    st = error_status(e)
    return web.json_response(st, status=st["code"])


def image_routes(service: ImageService) -> list[web.RouteDef]:
    async def run(fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def list_images(request: web.Request) -> web.Response:
        return web.json_response({"kind": "ImageList", "items": await run(service.list)})

    async def pull(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            ref = str(body["image"])
        except (ValueError, KeyError, TypeError):
            return _fail(InvalidReference("", 'the body must be {"image": REF, ...}'))
        auth = body.get("auth")
        creds = Credentials(str(auth.get("username", "")), str(auth.get("password", ""))) \
            if isinstance(auth, dict) else None
        platform = str(body.get("platform") or "")
        if request.query.get("progress") != "true":
            try:
                img = await run(lambda: service.pull(ref, platform=platform, auth=creds))
            except (ImageError, HostError) as e:
                return _fail(e)
            return web.json_response(img)
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def progress(layer: str, done: int, total: int) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, {"type": "progress", "layer": layer,
                                                         "done": done, "total": total})

        def work() -> None:
            try:
                img = service.pull(ref, platform=platform, auth=creds, progress=progress)
                msg: dict[str, Any] = {"type": "result", "image": img}
            except (ImageError, HostError) as e:
                msg = {"type": "error", "status": error_status(e)}
            loop.call_soon_threadsafe(queue.put_nowait, msg)
            loop.call_soon_threadsafe(queue.put_nowait, None)

        task = loop.run_in_executor(None, work)
        while (msg := await queue.get()) is not None:
            await resp.write(json.dumps(msg).encode() + b"\n")
        await task
        await resp.write_eof()
        return resp

    async def import_archive(request: web.Request) -> web.Response:
        name = request.query.get("name", "")
        # spooled to the store's ingest dir (same filesystem; cleaned at open after a crash)
        fd, tmp = tempfile.mkstemp(prefix="tmp-import-", dir=service.store.blobs.ingest_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.content.iter_chunked(1 << 20):
                    out.write(chunk)
            try:
                def work() -> Any:
                    with open(tmp, "rb") as f:
                        return service.import_(f, name)

                items = await run(work)
            except (ImageError, HostError) as e:
                return _fail(e)
            return web.json_response({"kind": "ImageList", "items": items})
        finally:
            os.unlink(tmp)

    async def remove(request: web.Request) -> web.Response:
        ref = request.match_info["ref"]
        force = request.query.get("force") == "true"
        try:
            names = await run(lambda: service.remove(ref, force=force))
        except (ImageError, HostError) as e:
            return _fail(e)
        return web.json_response({"deleted": names})

    return [web.get("/podrun/v1/images", list_images),
            web.post("/podrun/v1/images/pull", pull),
            web.post("/podrun/v1/images/import", import_archive),
            web.delete("/podrun/v1/images/{ref:.*}", remove)]
