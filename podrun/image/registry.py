"""Distribution API v2 client: resolve, authorise, fetch and verify, then commit to the store.

    pull(ref) = endpoints (mirrors first) -> manifest (Accept: index, OCI, Docker list,
    Docker v2 schema 2) -> platform pick -> config -> layers (at most 3 at a time, each
    resumed with HTTP Range after an interruption, sha256 and size checked while streaming)
    -> store.commit (unpack each new layer once).

Auth: a 401 with `WWW-Authenticate: Bearer realm=..,service=..,scope=..` fetches a token
(anonymous, or with Basic credentials; a refresh token by OAuth2 POST); `Basic` sends the
credentials. HTTP is used only for loopback and configured insecure registries (after
HTTPS without verification failed), as containerd does.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from podrun.image import oci
from podrun.image.auth import Credentials, lookup, parse_challenge
from podrun.image.digest import CHUNK, HashingReader, sha256_bytes
from podrun.image.errors import (
    DigestMismatch,
    ImageError,
    ManifestUnknown,
    PullAccessDenied,
    RegistryError,
)
from podrun.image.reference import DEFAULT_DOMAIN, Reference, parse_normalized
from podrun.image.store import ImageRecord, ImageStore

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (layer digest, bytes done, bytes total)
MAX_CONCURRENT_LAYERS = 3
RETRIES = 3


@dataclass(frozen=True)
class RegistryConfig:
    """podrun's registry settings: `{"mirrors": {"docker.io": ["http://127.0.0.1:5001"]},
    "insecure": ["registry.lan:5000"], "timeout": 60}`. timeout is the seconds a registry
    may send nothing (read timeout per chunk, not per pull): a registry that stalls
    mid-blob fails that request instead of hanging the pull forever; the download then
    resumes with a Range request."""

    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    insecure: frozenset[str] = frozenset()
    timeout: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> RegistryConfig:
        d = d or {}
        mirrors = {k: tuple(v) for k, v in (d.get("mirrors") or {}).items()}
        timeout = float(d["timeout"]) if d.get("timeout") else None
        return cls(mirrors, frozenset(d.get("insecure") or ()), timeout)


def is_loopback(host: str) -> bool:
    h = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    h = h.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def api_host(domain: str) -> str:
    return "registry-1.docker.io" if domain == DEFAULT_DOMAIN else domain


def _error_detail(r: httpx.Response) -> str:
    try:
        errs = r.json().get("errors") or []
        return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                         for e in errs) or r.reason_phrase
    except (ValueError, AttributeError):
        return r.reason_phrase


class Endpoint:
    """One registry host. Holds tokens per scope; safe to share between threads."""

    def __init__(self, base: str, creds: Credentials | None, *, insecure: bool,
                 transport: httpx.BaseTransport | None, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.creds = creds if creds and not creds.empty else None
        self.insecure = insecure
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._auth: dict[str, str] = {}
        self._lock = threading.Lock()
        self._scheme_checked = "://" in base

    @property
    def host(self) -> str:
        return self.base.split("://", 1)[-1]

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                transport=self._transport, verify=not self.insecure, follow_redirects=True,
                timeout=httpx.Timeout(self._timeout, connect=10.0),
                headers={"User-Agent": "podrun"})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _resolve_scheme(self) -> None:
        """https first; http only when insecure (loopback or configured) and TLS failed."""
        if self._scheme_checked:
            return
        with self._lock:
            if self._scheme_checked:
                return
            host = self.base
            try:
                self.client().get(f"https://{host}/v2/", timeout=5.0).close()
                self.base = f"https://{host}"
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as e:
                if not self.insecure:
                    raise RegistryError(f"cannot reach registry {host} over HTTPS: {e}") \
                        from None
                self.base = f"http://{host}"
            self._scheme_checked = True

    def request(self, method: str, path: str, scope: str, *, headers: dict[str, str] | None = None,
                stream: bool = False, what: str = "") -> httpx.Response:
        self._resolve_scheme()
        for attempt in (1, 2):
            h = dict(headers or {})
            if scope in self._auth:
                h["Authorization"] = self._auth[scope]
            req = self.client().build_request(method, self.base + path, headers=h)
            try:
                r = self.client().send(req, stream=stream)
            except httpx.TransportError as e:
                raise RegistryError(f"{what or path}: cannot reach {self.host}: {e}") from None
            if r.status_code != 401 or attempt == 2:
                break
            challenge = r.headers.get("www-authenticate", "")
            r.close()
            self._authorize(challenge, scope, what)
        if r.status_code == 401:
            detail = _error_detail(r) if not stream else "unauthorized"
            r.close()
            raise PullAccessDenied(
                f"pull access denied for {what}, repository does not exist or may require "
                f"authorization: {detail} (unauthorized)", 401)
        return r

    def _authorize(self, challenge: str, scope: str, what: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self.creds is None:
                raise PullAccessDenied(f"pull access denied for {what}: the registry wants "
                                       "credentials and none were given (unauthorized)", 401)
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            self._auth[scope] = "Basic " + base64.b64encode(raw).decode()
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"{what}: unsupported authentication challenge {challenge!r}",
                                401)
        if self.creds and self.creds.registry_token:
            self._auth[scope] = "Bearer " + self.creds.registry_token
            return
        self._auth[scope] = "Bearer " + self._fetch_token(params, scope, what)

    def _fetch_token(self, params: dict[str, str], scope: str, what: str) -> str:
        realm = params["realm"]
        query = {k: v for k, v in (("service", params.get("service", "")),
                                   ("scope", scope)) if v}
        try:
            if self.creds and self.creds.identity_token:
                r = self.client().post(realm, data={
                    "grant_type": "refresh_token", "refresh_token": self.creds.identity_token,
                    "client_id": "podrun", **query})
            else:
                auth = ((self.creds.username, self.creds.password) if self.creds else None)
                r = self.client().get(realm, params=query, auth=auth)
        except httpx.TransportError as e:
            raise RegistryError(f"{what}: cannot reach the token service {realm}: {e}") \
                from None
        if r.status_code in (401, 403):
            who = "with the given credentials" if self.creds else "anonymously"
            raise PullAccessDenied(
                f"pull access denied for {what}, repository does not exist or may require "
                f"authorization: token request {who} refused: {_error_detail(r)} "
                "(unauthorized)", r.status_code)
        if r.status_code != 200:
            raise RegistryError(f"{what}: token service {realm} answered {r.status_code}",
                                r.status_code)
        try:
            doc = r.json()
        except ValueError:
            raise RegistryError(f"{what}: token service {realm} sent no JSON") from None
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise RegistryError(f"{what}: token service {realm} sent no token")
        return str(token)


class Puller:
    """Pulls images into an ImageStore. One instance may serve many pulls."""

    def __init__(self, store: ImageStore, *, config: RegistryConfig | None = None,
                 credentials: Mapping[str, Credentials] | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0,
                 max_concurrent: int = MAX_CONCURRENT_LAYERS) -> None:
        self.store = store
        self.config = config or RegistryConfig()
        self.credentials = dict(credentials or {})
        self.transport = transport
        self.timeout = self.config.timeout or timeout
        self.max_concurrent = max(1, min(max_concurrent, MAX_CONCURRENT_LAYERS))

    def endpoints(self, ref: Reference, auth: Credentials | None) -> list[Endpoint]:
        out = []
        for m in self.config.mirrors.get(ref.domain, ()):
            host = m.split("://", 1)[-1].rstrip("/")
            out.append(Endpoint(m if "://" in m else host, auth or lookup(self.credentials,
                                Reference(host, ref.path)),
                                insecure=m.startswith("http://") or host in self.config.insecure
                                or is_loopback(host), transport=self.transport,
                                timeout=self.timeout))
        host = api_host(ref.domain)
        insecure = ref.domain in self.config.insecure or is_loopback(ref.domain)
        out.append(Endpoint(host, auth or lookup(self.credentials, ref), insecure=insecure,
                            transport=self.transport, timeout=self.timeout))
        return out

    # --- manifests --------------------------------------------------------------------

    def _get_manifest(self, ep: Endpoint, ref: Reference, obj: str, scope: str) -> tuple[bytes, str, str]:
        what = ref.familiar_string() if obj == ref.object else f"{ref.familiar_name()}@{obj}"
        r = ep.request("GET", f"/v2/{ref.path}/manifests/{obj}", scope,
                       headers={"Accept": oci.ACCEPT}, stream=True, what=ref.familiar_name())
        try:
            if r.status_code == 404:
                r.read()
                raise ManifestUnknown(f"{what}: manifest unknown ({_error_detail(r)})", 404)
            if r.status_code != 200:
                r.read()
                raise RegistryError(f"{what}: registry answered {r.status_code} "
                                    f"({_error_detail(r)})", r.status_code)
            body = b""
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > oci.MAX_MANIFEST_SIZE:
                    raise ImageError(f"{what}: manifest larger than {oci.MAX_MANIFEST_SIZE} "
                                     "bytes")
            header_type = r.headers.get("content-type", "")
            header_digest = r.headers.get("docker-content-digest", "")
        finally:
            r.close()
        digest = sha256_bytes(body)
        if obj.startswith("sha256:") and digest != obj:
            raise DigestMismatch(f"manifest {what}", obj, digest)
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatch(f"manifest {what} (Docker-Content-Digest)", header_digest,
                                 digest)
        return body, digest, oci.media_type_of(body, header_type)

    def resolve(self, ref: str | Reference, *, auth: Credentials | None = None) -> str:
        """The manifest (or index) digest a tag points at now: for imagePullPolicy Always."""
        r = ref if isinstance(ref, Reference) else parse_normalized(ref)
        if r.digest:
            return r.digest
        last: Exception | None = None
        for ep in self.endpoints(r, auth):
            try:
                _, digest, _ = self._get_manifest(ep, r, r.object, f"repository:{r.path}:pull")
                return digest
            except (RegistryError, DigestMismatch) as e:
                last = e
            finally:
                ep.close()
        assert last is not None
        raise last

    # --- blobs ------------------------------------------------------------------------

    def _fetch_blob(self, ep: Endpoint, ref: Reference, desc: oci.Descriptor, scope: str,
                    progress: Progress | None) -> None:
        """Downloads one blob into the store, resuming from <ingest>/<hex>.partial."""
        with self.store.blobs.ingesting(desc.digest):
            self._fetch_blob_locked(ep, ref, desc, scope, progress)

    def _fetch_blob_locked(self, ep: Endpoint, ref: Reference, desc: oci.Descriptor,
                           scope: str, progress: Progress | None) -> None:
        blobs = self.store.blobs
        if blobs.has(desc.digest):
            if progress:
                progress(desc.digest, desc.size, desc.size)
            return
        partial = blobs.partial_path(desc.digest)
        last: Exception | None = None
        for attempt in range(1, RETRIES + 1):
            offset = os.path.getsize(partial) if os.path.exists(partial) else 0
            if offset > desc.size:
                os.unlink(partial)
                offset = 0
            try:
                if offset < desc.size or desc.size == 0:
                    self._download(ep, ref, desc, scope, partial, offset, progress)
                blobs.commit_file(partial, desc.digest, desc.size)
                return
            except DigestMismatch:
                raise  # the partial is gone; a tampered blob is not retried
            except (httpx.TransportError, RegistryError) as e:
                if isinstance(e, RegistryError) and e.status in (401, 403, 404):
                    raise
                last = e
                log.warning("blob %s: download interrupted (%s), resuming (attempt %d)",
                            desc.digest[:19], e, attempt)
                time.sleep(min(0.2 * attempt, 1.0))
        raise RegistryError(f"blob {desc.digest}: download failed after {RETRIES} attempts: "
                            f"{last}")

    def _download(self, ep: Endpoint, ref: Reference, desc: oci.Descriptor, scope: str,
                  partial: str, offset: int, progress: Progress | None) -> None:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        r = ep.request("GET", f"/v2/{ref.path}/blobs/{desc.digest}", scope, headers=headers,
                       stream=True, what=ref.familiar_name())
        try:
            if r.status_code == 404:
                raise RegistryError(f"blob {desc.digest} of {ref.familiar_name()}: "
                                    "blob unknown", 404)
            if r.status_code == 200:
                offset = 0  # the registry ignored Range: start over
            elif r.status_code != 206:
                raise RegistryError(f"blob {desc.digest}: registry answered {r.status_code}",
                                    r.status_code)
            mode = "ab" if offset else "wb"
            done = offset
            with open(partial, mode) as out:
                out.truncate(offset)
                for chunk in r.iter_bytes():  # as received: a cut keeps what arrived
                    out.write(chunk)
                    done += len(chunk)
                    if done > desc.size:
                        out.close()
                        os.unlink(partial)
                        raise DigestMismatch(f"blob {desc.digest}", f"{desc.size} bytes",
                                             f"more than {desc.size} bytes")
                    if progress:
                        progress(desc.digest, done, desc.size)
        finally:
            r.close()

    def _fetch_small(self, ep: Endpoint, ref: Reference, desc: oci.Descriptor,
                     scope: str) -> bytes:
        if self.store.blobs.has(desc.digest):
            return self.store.blobs.read(desc.digest)
        r = ep.request("GET", f"/v2/{ref.path}/blobs/{desc.digest}", scope, stream=True,
                       what=ref.familiar_name())
        try:
            if r.status_code != 200:
                r.read()
                raise RegistryError(f"blob {desc.digest}: registry answered {r.status_code}",
                                    r.status_code)
            reader = HashingReader(_IterReader(r.iter_bytes(CHUNK)))
            data = reader.read(desc.size + 1)
            reader.verify(f"blob {desc.digest}", desc.digest, desc.size)
        finally:
            r.close()
        self.store.blobs.write(data, desc.digest)
        return data

    # --- pull -------------------------------------------------------------------------

    def pull(self, ref: str | Reference, platform: oci.Platform | None = None,
             auth: Credentials | None = None, progress: Progress | None = None) -> ImageRecord:
        r = ref if isinstance(ref, Reference) else parse_normalized(ref)
        platform = platform or oci.host_platform()
        last: Exception | None = None
        for ep in self.endpoints(r, auth):
            try:
                return self._pull_from(ep, r, platform, progress)
            except (ManifestUnknown, RegistryError) as e:
                last = e
                log.info("pull %s from %s: %s", r, ep.host, e)
            finally:
                ep.close()
        assert last is not None
        raise last

    def _pull_from(self, ep: Endpoint, ref: Reference, platform: oci.Platform,
                   progress: Progress | None) -> ImageRecord:
        scope = f"repository:{ref.path}:pull"
        body, digest, mt = self._get_manifest(ep, ref, ref.object, scope)
        with self.store.lease() as lease:
            index_digest = ""
            extra: list[str] = []
            if mt in oci.INDEX_TYPES:
                lease.add(self.store.blobs.write(body, digest))
                extra.append(digest)
                index_digest = digest
                chosen = oci.select_platform(oci.parse_index(body), platform)
                body, digest, mt = self._get_manifest(ep, ref, chosen.digest, scope)
            if mt not in oci.MANIFEST_TYPES:
                raise ImageError(f"{ref.familiar_string()}: unsupported manifest media type "
                                 f"{mt!r}")
            m = oci.parse_manifest(body)
            lease.add(self.store.blobs.write(body, digest))
            lease.add(m.config.digest)
            self._fetch_small(ep, ref, m.config, scope)
            lease.update(d.digest for d in m.layers)
            # layers download (at most max_concurrent at once) while commit unpacks each one
            # as soon as it and those below it are in; the first failure ends the pull after
            # the downloads under way stopped
            with ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="pull") as pool:
                futures = [pool.submit(self._fetch_blob, ep, ref, d, scope, progress)
                           for d in m.layers]
                try:
                    rec = self.store.commit(str(ref), digest, index_digest=index_digest,
                                            extra_blobs=extra, platform=str(platform),
                                            before_layer=lambda i: futures[i].result())
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
                return rec


class _IterReader:
    def __init__(self, it: Any) -> None:
        self.it = iter(it)
        self.buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            try:
                self.buf += next(self.it)
            except StopIteration:
                break
        if n < 0:
            data, self.buf = self.buf, b""
        else:
            data, self.buf = self.buf[:n], self.buf[n:]
        return data


def pull(store: ImageStore, ref: str | Reference, platform: oci.Platform | None = None,
         auth: Credentials | None = None, progress: Progress | None = None, *,
         config: RegistryConfig | None = None,
         credentials: Mapping[str, Credentials] | None = None) -> ImageRecord:
    """pull(ref, platform, auth, progress) -> the image record (see Puller)."""
    return Puller(store, config=config, credentials=credentials).pull(ref, platform, auth,
                                                                      progress)
