"""Registry credentials: docker-style config files, kubernetes.io/dockerconfigjson Secrets,
and the WWW-Authenticate challenge grammar. No I/O beyond reading a config file.

Lookup follows the kubelet's keyring: a key matches a registry host (with port), may carry a
path prefix (`registry.example/team`) and a `*.` wildcard; the longest match wins.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from podrun.image.errors import ImageError
from podrun.image.reference import Reference


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth2 refresh token (docker login with a token)
    registry_token: str = ""  # a bearer token to send as is

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r}, password=***)"

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or
                    self.registry_token)


DOCKER_HUB_KEYS = {"docker.io", "index.docker.io", "registry-1.docker.io",
                   "registry.hub.docker.com"}


def normalize_key(key: str) -> str:
    """`https://index.docker.io/v1/` -> `docker.io`; `http://r:5000/` -> `r:5000`."""
    key = re.sub(r"^[a-z]+://", "", key.strip()).rstrip("/")
    host, _, path = key.partition("/")
    if host in DOCKER_HUB_KEYS:
        host = "docker.io"
        if path in ("v1", "v2"):
            path = ""
    return f"{host}/{path}" if path else host


def _entry(key: str, v: Any) -> Credentials:
    if not isinstance(v, dict):
        raise ImageError(f"registry credentials for {key!r}: not an object")
    user, pw = str(v.get("username") or ""), str(v.get("password") or "")
    if v.get("auth"):
        try:
            decoded = base64.b64decode(str(v["auth"]), validate=False).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ImageError(f"registry credentials for {key!r}: auth is not base64 "
                             "of user:password") from None
        user, sep, pw = decoded.partition(":")
        if not sep:
            raise ImageError(f"registry credentials for {key!r}: auth is not base64 "
                             "of user:password")
    return Credentials(user, pw, str(v.get("identitytoken") or ""),
                       str(v.get("registrytoken") or ""))


def from_docker_config(doc: Mapping[str, Any]) -> dict[str, Credentials]:
    """`auths` of a config.json/auth.json; also the legacy .dockercfg shape (no `auths`).
    credsStore/credHelpers are not run; they are ignored."""
    auths = doc.get("auths") if "auths" in doc else doc
    if not isinstance(auths, dict):
        raise ImageError("registry credentials: `auths` is not an object")
    return {normalize_key(k): _entry(k, v) for k, v in auths.items()
            if k not in ("credsStore", "credHelpers", "HttpHeaders", "psFormat")}


def from_dockerconfigjson(doc: Mapping[str, Any]) -> dict[str, Credentials]:
    """The decoded `.dockerconfigjson` of a kubernetes.io/dockerconfigjson Secret
    (or `.dockercfg` of kubernetes.io/dockercfg): imagePullSecrets."""
    return from_docker_config(doc)


def from_secret_data(data: Mapping[str, str]) -> dict[str, Credentials]:
    """A Secret's base64 `data` map, as the API returns it."""
    for key in (".dockerconfigjson", ".dockercfg"):
        if key in data:
            try:
                return from_docker_config(json.loads(base64.b64decode(data[key])))
            except (ValueError, binascii.Error) as e:
                raise ImageError(f"image pull secret: {key} is not base64 JSON: {e}") from None
    raise ImageError("image pull secret: no .dockerconfigjson or .dockercfg key")


def default_config_paths() -> list[str]:
    paths = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(os.environ["REGISTRY_AUTH_FILE"])
    paths.append(f"/run/containers/{os.getuid()}/auth.json")
    if os.environ.get("DOCKER_CONFIG"):
        paths.append(os.path.join(os.environ["DOCKER_CONFIG"], "config.json"))
    paths.append(os.path.expanduser("~/.docker/config.json"))
    return paths


def load_config_files(paths: Iterable[str] | None = None) -> dict[str, Credentials]:
    """Merged credentials of the files that exist; earlier files win."""
    out: dict[str, Credentials] = {}
    for p in default_config_paths() if paths is None else paths:
        try:
            with open(p) as f:
                doc = json.load(f)
        except FileNotFoundError:
            continue
        except ValueError as e:
            raise ImageError(f"registry credentials: {p}: invalid JSON: {e}") from None
        for k, v in from_docker_config(doc).items():
            out.setdefault(k, v)
    return out


def lookup(creds: Mapping[str, Credentials], ref: Reference) -> Credentials | None:
    """The credentials whose key best matches ref's registry and repository."""
    target = f"{ref.domain}/{ref.path}"
    best: tuple[int, Credentials] | None = None
    for key, c in creds.items():
        host, _, path = key.partition("/")
        if not fnmatchcase(ref.domain, host) or (":" in ref.domain) != (":" in host):
            continue
        if path and not (target + "/").startswith(f"{ref.domain}/{path}/"):
            continue
        score = len(path) * 2 + (0 if "*" in host else 1)
        if best is None or score > best[0]:
            best = (score, c)
    return best[1] if best else None


_PARAM = re.compile(r'([a-zA-Z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://auth",service="reg",scope="repository:a:pull"` ->
    ("bearer", {...}). Only the first challenge is used."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2).replace('\\"', '"') if m.group(2) is not None
                                   else m.group(3)) for m in _PARAM.finditer(rest)}
    return scheme.lower(), params
