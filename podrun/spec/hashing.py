"""Stable hashes of defaulted objects: "did the manifest change", per-container change
detection, and the static pod UID (kubelet config/common.go applyDefaults, BEHAVIOR.md 7.3).

All hashes are over canonical JSON (sorted keys, no whitespace), so YAML layout, comments
and key order never matter; every semantic change does.
"""

from __future__ import annotations

import hashlib
import json

from podrun.spec.defaults import apply_defaults
from podrun.spec.encode import to_json
from podrun.spec.types import Container, EphemeralContainer, Pod


def canonical_json(value: object) -> bytes:
    """The canonical encoding hashed everywhere here."""
    return json.dumps(
        to_json(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def spec_hash(pod: Pod) -> str:
    """sha256 (64 hex chars) of the defaulted pod spec."""
    spec = apply_defaults(pod).spec
    return hashlib.sha256(canonical_json(spec)).hexdigest()


def container_hash(container: Container | EphemeralContainer) -> str:
    """sha256 (16 hex chars) of one container spec as given (default it first via the pod).

    Unlike kubelet >= 1.31, which hashes only name and image, every field counts: a change
    to command, env, probes or resources restarts that container."""
    return hashlib.sha256(canonical_json(container)).hexdigest()[:16]


def static_pod_uid(pod: Pod, node_name: str, path: str) -> str:
    """UID of a static pod without metadata.uid: 32 lower-case hex chars of a 128-bit hash
    over the defaulted pod, then ``host:<node_name>``, then ``file:<path>``.

    kubelet uses MD5 / FNV-128a over its own deep-print of the object; podrun uses
    BLAKE2b-128 over canonical JSON, which has the same invariances."""
    h = hashlib.blake2b(digest_size=16)
    h.update(canonical_json(apply_defaults(pod)))
    h.update(f"host:{node_name}".encode())
    h.update(f"file:{path}".encode())
    return h.hexdigest()
