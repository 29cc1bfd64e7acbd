"""The image API routes over an ImageService with a fake registry (no network, no root)."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from podrun.image.api import image_routes
from podrun.image.service import ImageService
from tests.support import TEST_TMP
from tests.unit.image.layers import oci_layout_tar
from tests.unit.image.test_registry import IMG, REF, FakeRegistry


@pytest.fixture
def root() -> Iterator[Path]:
    p = Path(tempfile.mkdtemp(prefix="podrun-image-api-", dir=TEST_TMP))
    try:
        yield p
    finally:
        shutil.rmtree(p, ignore_errors=True)


def with_client(svc: ImageService, fn: Any) -> Any:
    async def main() -> Any:
        app = web.Application()
        app.add_routes(image_routes(svc))
        async with TestClient(TestServer(app)) as client:
            return await fn(client)

    return asyncio.run(main())


def test_pull_list_import_remove(root: Path) -> None:
    reg = FakeRegistry(IMG, "basic")
    svc = ImageService(str(root), auth_files=[], transport=httpx.MockTransport(reg.handler))

    async def flow(c: TestClient[Any, Any]) -> None:
        r = await c.post("/podrun/v1/images/pull", json={"image": REF})
        assert r.status == 403
        assert "pull access denied" in (await r.json())["message"]
        r = await c.post("/podrun/v1/images/pull?progress=true",
                         json={"image": REF, "platform": "linux/amd64",
                               "auth": {"username": "u", "password": "p"}})
        lines = [json.loads(x) for x in (await r.text()).splitlines()]
        assert lines[-1]["type"] == "result"
        assert lines[-1]["image"]["id"] == IMG.config_digest
        assert any(x["type"] == "progress" for x in lines)
        r = await c.get("/podrun/v1/images")
        assert [i["id"] for i in (await r.json())["items"]] == [IMG.config_digest]
        r = await c.post("/podrun/v1/images/pull", json={"image": "Bad:ref"})
        assert r.status == 400
        r = await c.post("/podrun/v1/images/import?name=local/imported:1",
                         data=oci_layout_tar(IMG.manifest, IMG.blobs))
        assert r.status == 200, await r.text()
        assert (await r.json())["items"][0]["repoTags"] == ["docker.io/local/imported:1"]
        r = await c.delete(f"/podrun/v1/images/{REF}")
        assert (await r.json())["deleted"] == [REF]
        r = await c.delete("/podrun/v1/images/nope:1")
        assert r.status == 404

    with_client(svc, flow)
