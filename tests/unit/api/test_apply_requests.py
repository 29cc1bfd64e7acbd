"""`podrun apply` talks to the daemon as little as it can: a new object costs one POST (no
GET that says 404 first), an existing one goes POST (409 AlreadyExists), GET, PUT; and a
common manifest is read without importing PyYAML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podrun.api import client as api_client
from tests.unit.api.test_cli_client import MANIFEST, Server, env, podrun

__all__ = ["env"]  # the fixture, imported for these tests


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    opened = api_client.Client._open

    def record(self: Any, method: str, path: str, *a: Any, **k: Any) -> Any:
        seen.append((method, path.split("?")[0]))
        return opened(self, method, path, *a, **k)
    monkeypatch.setattr(api_client.Client, "_open", record)
    return seen


def test_a_new_pod_is_one_post_an_existing_one_post_get_put(
        env: tuple[Server, Path], calls: list[tuple[str, str]]) -> None:
    srv, d = env
    f = d / "pod.yaml"
    f.write_text(MANIFEST)
    assert podrun(srv, "apply", "-f", str(f)).output == "pod/web created\n"
    assert calls == [("POST", "/api/v1/namespaces/default/pods")]
    calls.clear()
    f.write_text(MANIFEST.replace("busybox", "busybox:2"))
    assert podrun(srv, "apply", "-f", str(f)).output == "pod/web configured\n"
    assert calls == [("POST", "/api/v1/namespaces/default/pods"),
                     ("GET", "/api/v1/namespaces/default/pods/web"),
                     ("PUT", "/api/v1/namespaces/default/pods/web")]


def test_a_common_manifest_is_read_without_pyyaml(tmp_path: Path) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(MANIFEST)
    code = ("import sys\nfrom podrun.cli_core import _raw_objects\n"
            f"objs = _raw_objects(({str(f)!r},))\n"
            "assert objs[0][1]['metadata']['name'] == 'web', objs\n"
            "print('yaml' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[3]).stdout
    assert out.strip() == "False"
