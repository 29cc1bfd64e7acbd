"""The registry client against an in-process fake registry (httpx.MockTransport): the bearer
token flow, Basic auth, errors, negotiation and verification. No network."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from podrun.image.auth import (
    Credentials,
    from_docker_config,
    from_secret_data,
    lookup,
    normalize_key,
    parse_challenge,
)
from podrun.image.errors import DigestMismatch, ManifestUnknown, PullAccessDenied, RegistryError
from podrun.image.oci import ACCEPT, Platform
from podrun.image.reference import parse_normalized
from podrun.image.registry import Puller, RegistryConfig, is_loopback
from podrun.image.store import ImageStore
from tests.support import TEST_TMP
from tests.unit.image.layers import Image, build_image, f, sha, tar_bytes

IMG = build_image([tar_bytes([f("a", b"a" * 5000)]), tar_bytes([f("b", b"b")])])
REALM = "https://auth.example/token"


class FakeRegistry:
    def __init__(self, img: Image, auth: str = "none", user: str = "u", pw: str = "p") -> None:
        self.img = img
        self.auth = auth
        self.user, self.pw = user, pw
        self.requests: list[httpx.Request] = []
        self.tokens_issued: list[str] = []
        self.tamper: str = ""
        self.lie = False  # serve the manifest for any digest

    def handler(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        if req.url.host == "auth.example":
            return self.token(req)
        if not self.authorized(req):
            ch = (f'Bearer realm="{REALM}",service="registry.example",'
                  f'scope="repository:team/app:pull"' if self.auth == "bearer"
                  else 'Basic realm="test"')
            return httpx.Response(401, headers={"WWW-Authenticate": ch},
                                  json={"errors": [{"code": "UNAUTHORIZED",
                                                    "message": "authentication required"}]})
        path = req.url.path
        if path == "/v2/":
            return httpx.Response(200, json={})
        if path.startswith("/v2/team/app/manifests/"):
            obj = path.rsplit("/", 1)[1]
            if obj in ("v1", self.img.digest) or (self.lie and obj.startswith("sha256:")):
                return httpx.Response(200, content=self.img.manifest, headers={
                    "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                    "Docker-Content-Digest": self.img.digest})
            return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN",
                                                         "message": "manifest unknown"}]})
        if path.startswith("/v2/team/app/blobs/"):
            dg = path.rsplit("/", 1)[1]
            data = self.img.blobs.get(dg)
            if data is None:
                return httpx.Response(404)
            if dg == self.tamper:
                data = data[:-1] + bytes([data[-1] ^ 1])
            return httpx.Response(200, content=data)
        return httpx.Response(404)

    def authorized(self, req: httpx.Request) -> bool:
        h = str(req.headers.get("authorization", ""))
        if self.auth == "none":
            return True
        if self.auth == "basic":
            return h == "Basic " + base64.b64encode(f"{self.user}:{self.pw}".encode()).decode()
        return h.removeprefix("Bearer ") in self.tokens_issued

    def token(self, req: httpx.Request) -> httpx.Response:
        assert req.url.params["service"] == "registry.example"
        assert req.url.params["scope"] == "repository:team/app:pull"
        h = req.headers.get("authorization", "")
        if h:
            if h != "Basic " + base64.b64encode(f"{self.user}:{self.pw}".encode()).decode():
                return httpx.Response(401, json={"details": "bad credentials"})
        elif self.user:  # private repository: anonymous gets a token without access
            tok = "anonymous"
            return httpx.Response(200, json={"token": tok})
        tok = f"tok{len(self.tokens_issued)}"
        self.tokens_issued.append(tok)
        return httpx.Response(200, json={"token": tok, "expires_in": 300})


@pytest.fixture
def store() -> Iterator[ImageStore]:
    p = Path(tempfile.mkdtemp(prefix="podrun-registry-unit-", dir=TEST_TMP))
    try:
        yield ImageStore(str(p))
    finally:
        shutil.rmtree(p, ignore_errors=True)


def puller(store: ImageStore, reg: FakeRegistry, **kw: object) -> Puller:
    return Puller(store, transport=httpx.MockTransport(reg.handler), **kw)  # type: ignore[arg-type]


REF = "registry.example/team/app:v1"
AMD64 = Platform("linux", "amd64")


def test_bearer_with_credentials(store: ImageStore) -> None:
    reg = FakeRegistry(IMG, "bearer")
    rec = puller(store, reg).pull(REF, AMD64, auth=Credentials("u", "p"))
    assert rec.digest == IMG.digest and rec.id == IMG.config_digest
    assert reg.tokens_issued == ["tok0"]  # one token for the whole pull (same scope)
    m = [r for r in reg.requests if "/manifests/" in r.url.path][0]
    assert m.headers["accept"] == ACCEPT
    assert all(r.url.scheme == "https" for r in reg.requests)


def test_bearer_anonymous_denied(store: ImageStore) -> None:
    reg = FakeRegistry(IMG, "bearer")
    with pytest.raises(PullAccessDenied, match=r"^pull access denied for registry.example/"
                                                r"team/app, repository does not exist.*"
                                                r"unauthorized"):
        puller(store, reg).pull(REF, AMD64)


def test_bearer_wrong_password(store: ImageStore) -> None:
    reg = FakeRegistry(IMG, "bearer")
    with pytest.raises(PullAccessDenied, match="token request with the given credentials "
                                               "refused"):
        puller(store, reg).pull(REF, AMD64, auth=Credentials("u", "bad"))


def test_bearer_anonymous_public(store: ImageStore) -> None:
    reg = FakeRegistry(IMG, "bearer", user="")
    rec = puller(store, reg).pull(REF, AMD64)
    assert rec.id == IMG.config_digest
    assert "authorization" not in [r for r in reg.requests if r.url.host == "auth.example"][0].headers


def test_basic_from_keyring(store: ImageStore) -> None:
    reg = FakeRegistry(IMG, "basic")
    creds = from_docker_config({"auths": {"https://registry.example": {
        "auth": base64.b64encode(b"u:p").decode()}}})
    rec = puller(store, reg, credentials=creds).pull(REF, AMD64)
    assert rec.id == IMG.config_digest


def test_manifest_unknown_and_tamper(store: ImageStore) -> None:
    reg = FakeRegistry(IMG)
    with pytest.raises(ManifestUnknown, match="manifest unknown"):
        puller(store, reg).pull("registry.example/team/app:v2", AMD64)
    reg.tamper = json.loads(IMG.manifest)["layers"][0]["digest"]
    with pytest.raises(DigestMismatch):
        puller(store, reg).pull(REF, AMD64)
    assert not store.blobs.has(reg.tamper)
    reg.lie = True
    with pytest.raises(DigestMismatch):
        puller(store, reg).pull(f"registry.example/team/app@{sha(b'other')}", AMD64)


def test_unreachable_is_a_registry_error(store: ImageStore) -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    p = Puller(store, transport=httpx.MockTransport(refuse))
    with pytest.raises(RegistryError, match="cannot reach"):
        p.pull(REF, AMD64)


def test_credentials_parsing_and_lookup() -> None:
    doc = {"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
        "registry.example:5000": {"username": "a", "password": "b"},
        "registry.example/team": {"auth": base64.b64encode(b"team:pw").decode()},
        "*.corp.example": {"auth": base64.b64encode(b"wild:pw").decode()},
    }}
    creds = from_docker_config(doc)
    assert creds["docker.io"].username == "hub"

    def who(ref: str) -> str:
        c = lookup(creds, parse_normalized(ref))
        return c.username if c else ""

    assert who("busybox") == "hub"
    assert who("registry.example:5000/x") == "a"
    assert who("registry.example/team/app") == "team"
    assert who("registry.example/other/app") == ""
    assert who("r.corp.example/x") == "wild"
    assert who("quay.io/x") == ""
    secret = {".dockerconfigjson": base64.b64encode(json.dumps(doc).encode()).decode()}
    assert from_secret_data(secret)["registry.example:5000"].password == "b"
    assert "pw" not in repr(creds["docker.io"])
    assert normalize_key("http://r:5000/") == "r:5000"


def test_challenge_parsing() -> None:
    s, p = parse_challenge('Bearer realm="https://a/token",service="reg",'
                           'scope="repository:x/y:pull,push"')
    assert s == "bearer"
    assert p == {"realm": "https://a/token", "service": "reg",
                 "scope": "repository:x/y:pull,push"}
    assert parse_challenge('Basic realm="r"') == ("basic", {"realm": "r"})


def test_config_and_loopback() -> None:
    cfg = RegistryConfig.from_dict({"mirrors": {"docker.io": ["http://m:1"]},
                                    "insecure": ["r:5000"]})
    assert cfg.mirrors["docker.io"] == ("http://m:1",) and "r:5000" in cfg.insecure
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost") and is_loopback("[::1]:5")
    assert not is_loopback("registry.example:5000")


def test_service_pull_list_remove(store: ImageStore) -> None:
    from podrun.image.service import ImageService

    reg = FakeRegistry(IMG, "basic")
    svc = ImageService(store.root, auth_files=[], transport=httpx.MockTransport(reg.handler))
    with pytest.raises(PullAccessDenied):
        svc.pull(REF, platform="linux/amd64")
    secret = {"auths": {"registry.example": {"username": "u", "password": "p"}}}
    out = svc.pull(REF, platform="linux/amd64", pull_secrets=[secret])
    assert out["id"] == IMG.config_digest
    assert out["repoTags"] == [REF]
    assert out["repoDigests"] == [f"registry.example/team/app@{IMG.digest}"]
    assert svc.status("registry.example/team/app:v1") is not None
    assert svc.status("registry.example/team/app:v9") is None
    assert [i["id"] for i in svc.list()] == [IMG.config_digest]
    assert "registry.example/team/app" in svc.table()
    assert svc.config(REF).cmd == ("/bin/sh",)
    assert svc.remove(REF) == [REF]
    assert svc.list() == []


def test_insecure_falls_back_to_http_secure_does_not(store: ImageStore) -> None:
    reg = FakeRegistry(IMG)

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.scheme == "https":
            raise httpx.ConnectError("wrong version number", request=req)
        return reg.handler(req)

    t = httpx.MockTransport(handler)
    with pytest.raises(RegistryError, match="over HTTPS"):
        Puller(store, transport=t).pull(REF, AMD64)
    cfg = RegistryConfig.from_dict({"insecure": ["registry.example"]})
    rec = Puller(store, transport=t, config=cfg).pull(REF, AMD64)
    assert rec.id == IMG.config_digest
    assert {r.url.scheme for r in reg.requests} == {"http"}
