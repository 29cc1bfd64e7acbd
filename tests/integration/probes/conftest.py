"""Fixtures for probe tests: a private network namespace, a self-signed certificate."""

from __future__ import annotations

import secrets
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import is_root


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace with lo up: its path. Deleted afterwards."""
    if not is_root():
        pytest.skip("needs root: creates a network namespace")
    name = f"podrun-probe-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="session")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server TLS context with a throw-away self-signed certificate."""
    d: Path = tmp_path_factory.mktemp("tls")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=podrun-probe-test", "-keyout", str(d / "key.pem"),
                        "-out", str(d / "cert.pem")], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"openssl cannot make a test certificate: {e}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx
