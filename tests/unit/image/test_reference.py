"""Reference grammar and normalisation, as a table (distribution's own cases among them)."""

from __future__ import annotations

import pytest

from podrun.image.errors import InvalidReference
from podrun.image.reference import parse, parse_normalized

D = "sha256:" + "a" * 64
D512 = "sha512:" + "b" * 128

VALID = [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox:musl", "docker.io/library/busybox:musl", "busybox:musl"),
    ("nginx:1.27", "docker.io/library/nginx:1.27", "nginx:1.27"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest", "bitnami/redis:latest"),
    ("a/b/c", "docker.io/a/b/c:latest", "a/b/c:latest"),
    ("localhost/foo", "localhost/foo:latest", "localhost/foo:latest"),
    ("localhost:5000/a/b", "localhost:5000/a/b:latest", "localhost:5000/a/b:latest"),
    (f"localhost:5000/a/b@{D}", f"localhost:5000/a/b@{D}", f"localhost:5000/a/b@{D}"),
    (f"busybox:1.36@{D}", f"docker.io/library/busybox:1.36@{D}", f"busybox:1.36@{D}"),
    (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
    (f"busybox@{D512}", f"docker.io/library/busybox@{D512}", f"busybox@{D512}"),
    ("registry.example:5000/team/app:v1", "registry.example:5000/team/app:v1",
     "registry.example:5000/team/app:v1"),
    ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"),
    ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
    ("[::1]:5000/x:t", "[::1]:5000/x:t", "[::1]:5000/x:t"),
    ("Example.COM/x", "Example.COM/x:latest", "Example.COM/x:latest"),
    ("foo_bar.baz-qux__x", "docker.io/library/foo_bar.baz-qux__x:latest",
     "foo_bar.baz-qux__x:latest"),
    ("a---b", "docker.io/library/a---b:latest", "a---b:latest"),
    ("busybox:" + "T" * 128, "docker.io/library/busybox:" + "T" * 128, "busybox:" + "T" * 128),
    ("busybox:_x.y-Z", "docker.io/library/busybox:_x.y-Z", "busybox:_x.y-Z"),
    ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
]

INVALID = [
    ("", "repository name must have at least one component"),
    ("Busybox", "repository name must be lowercase"),
    ("busybox:latest@", ""),
    ("localhost:5000/A/b", "repository name must be lowercase"),
    ("foo/Bar", "repository name must be lowercase"),
    ("busybox:" + "t" * 129, ""),
    ("busybox:-tag", ""),
    ("busybox:.tag", ""),
    ("-busybox", ""),
    ("busybox-", ""),
    ("a//b", ""),
    ("a/b/", ""),
    ("a__-b", ""),
    ("busybox@sha256:abc", ""),
    ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("busybox@sha256:" + "a" * 63, "invalid checksum digest length"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("docker.io/" + "a" * 250, "repository name must not be more than 255 characters"),
    ("localhost:port/x", ""),
    ("http://example.com/x", ""),
    ("busy box", ""),
    ("a:b:c", ""),
]


@pytest.mark.parametrize(("given", "full", "familiar"), VALID, ids=[v[0][:40] for v in VALID])
def test_valid(given: str, full: str, familiar: str) -> None:
    ref = parse_normalized(given)
    assert str(ref) == full
    assert ref.familiar_string() == familiar
    assert str(parse_normalized(str(ref))) == full  # normalisation is idempotent


@pytest.mark.parametrize(("given", "reason"), INVALID, ids=[v[0][:40] or "empty" for v in INVALID])
def test_invalid(given: str, reason: str) -> None:
    with pytest.raises(InvalidReference) as exc:
        parse_normalized(given)
    msg = str(exc.value)
    assert msg.startswith("invalid reference format")
    assert reason in msg


def test_uppercase_message_is_distributions() -> None:
    with pytest.raises(InvalidReference, match=r"^invalid reference format: repository name "
                                               r"must be lowercase$"):
        parse_normalized("Busybox")


def test_parts() -> None:
    ref = parse_normalized(f"localhost:5000/a/b:v1@{D}")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "a/b", "v1", D)
    assert ref.object == D  # name:tag@digest pulls by digest
    assert parse_normalized("x").object == "latest"
    assert parse("localhost/x").domain == "localhost"
    assert parse("a/b").domain == ""


def test_no_default_tag() -> None:
    assert str(parse_normalized("busybox", default_tag=False)) == "docker.io/library/busybox"
