"""Content digests: parsing, and readers that hash what flows through them.

A blob is trusted only after its sha256 and size matched while it was streamed."""

from __future__ import annotations

import hashlib
from typing import Protocol

from podrun.image.errors import DigestMismatch
from podrun.image.reference import validate_digest

CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hex_of(digest: str) -> str:
    validate_digest(digest)
    alg, _, hexpart = digest.partition(":")
    if alg != "sha256":
        raise DigestMismatch("digest", "a sha256 digest", digest)
    return hexpart


def hasher(digest: str) -> hashlib._Hash:
    alg = digest.partition(":")[0] if digest else "sha256"
    return hashlib.new(alg)


class HashingReader:
    """A file-like reader that hashes and counts every byte read through it."""

    def __init__(self, raw: Readable, algorithm: str = "sha256") -> None:
        self.raw = raw
        self.algorithm = algorithm
        self.h = hashlib.new(algorithm)
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if data:
            self.h.update(data)
            self.count += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self.h.hexdigest()}"

    def verify(self, what: str, expected: str, size: int | None = None) -> None:
        if size is not None and size >= 0 and self.count != size:
            raise DigestMismatch(what, f"{expected} ({size} bytes)",
                                 f"{self.digest} ({self.count} bytes)")
        if expected and self.digest != expected:
            raise DigestMismatch(what, expected, self.digest)


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainID: chain(L0) = diffID(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else sha256_bytes(f"{out[-1]} {d}".encode()))
    return out
