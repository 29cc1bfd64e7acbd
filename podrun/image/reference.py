"""Image references: docker/distribution's grammar and normalisation, exactly.

Pure: `busybox` -> `docker.io/library/busybox:latest`; invalid references raise
InvalidReference with distribution's wording (kubelet reason InvalidImageName).

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [domain '/'] path-component ['/' path-component]*
    domain         := host [':' port-number]
    path-component := alpha-numeric [separator alpha-numeric]*
    alpha-numeric  := /[a-z0-9]+/
    separator      := /[_.]|__|[-]*/
    tag            := /[\\w][\\w.-]{0,127}/
    digest         := algorithm ":" hex      (sha256: 64, sha384: 96, sha512: 128 lower hex)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podrun.image.errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALPHA_NUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"  # distribution: [._]|__|[-]*; an empty one only merges runs (and backtracks)
_PATH_COMPONENT = rf"{_ALPHA_NUMERIC}(?:{_SEPARATOR}{_ALPHA_NUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$", re.ASCII)
_TAG_RE = re.compile(rf"^{_TAG}$", re.ASCII)
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")

DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}


def validate_digest(digest: str) -> str:
    """go-digest's Validate: a known algorithm and lowercase hex of the right length."""
    alg, sep, hexpart = digest.partition(":")
    if not sep or not alg or not hexpart:
        raise InvalidReference(digest, "invalid checksum digest format")
    if alg not in DIGEST_HEX_LENGTH:
        raise InvalidReference(digest, "unsupported digest algorithm")
    if len(hexpart) != DIGEST_HEX_LENGTH[alg]:
        raise InvalidReference(digest, "invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise InvalidReference(digest, "invalid checksum digest format")
    return digest


@dataclass(frozen=True)
class Reference:
    """A parsed reference; `domain` is empty only for references parsed without
    normalisation that name no domain."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def familiar_name(self) -> str:
        """The short name `docker` shows: docker.io/library/busybox -> busybox."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX):]:
                path = path[len(OFFICIAL_REPO_PREFIX):]
            return path
        return self.name

    def familiar_string(self) -> str:
        s = self.familiar_name()
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def object(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        if not _TAG_RE.match(tag):
            raise InvalidReference(tag, "invalid tag format")
        return Reference(self.domain, self.path, tag, "")

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, self.tag, validate_digest(digest))


def parse(s: str) -> Reference:
    """distribution's reference.Parse: the grammar only, no normalisation."""
    m = _REFERENCE_RE.match(s)
    if m is None:
        if s == "":
            raise InvalidReference(s, "repository name must have at least one component")
        if _REFERENCE_RE.match(s.lower()) is not None:
            raise InvalidReference(s, "repository name must be lowercase")
        raise InvalidReference(s, "")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            s, f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest:
        validate_digest(digest)
    domain, path = _split_domain(name)
    return Reference(domain, path, tag, digest)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and _is_domain(first):
        return first, rest
    return "", name


def _is_domain(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def _split_docker_domain(s: str) -> tuple[str, str]:
    first, sep, rest = s.partition("/")
    if not sep or not _is_domain(first):
        domain, remainder = DEFAULT_DOMAIN, s
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_normalized(s: str, *, default_tag: bool = True) -> Reference:
    """distribution's ParseNormalizedNamed (+ TagNameOnly): what a Pod's `image:` means.

    `name:tag@digest` keeps both; pulls then go by digest, as containerd does."""
    if s == "":
        raise InvalidReference(s, "repository name must have at least one component")
    if _IDENTIFIER_RE.match(s):
        raise InvalidReference(
            s, f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(s)
    remote = remainder.split(":", 1)[0].split("@", 1)[0]
    if remote.lower() != remote:
        raise InvalidReference(s, "repository name must be lowercase")
    ref = parse(f"{domain}/{remainder}")
    if default_tag and not ref.tag and not ref.digest:
        ref = Reference(ref.domain, ref.path, DEFAULT_TAG, "")
    return ref


def is_valid(s: str) -> bool:
    try:
        parse_normalized(s)
    except InvalidReference:
        return False
    return True
