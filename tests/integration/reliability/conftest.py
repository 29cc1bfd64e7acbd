"""Reliability tests reuse the pods fixture (a real daemon with its own cgroup root, private
CNI network and busybox image) and add `podrun doctor` helpers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.integration.daemon.conftest import PODRUN
from tests.integration.pods.conftest import IMAGE, PodDaemon
from tests.integration.pods.conftest import busybox_archive as busybox_archive  # fixture
from tests.integration.pods.conftest import e2e_dir as e2e_dir  # fixture
from tests.integration.pods.conftest import pods as pods  # fixture


def pod_manifest(name: str, command: list[str] | tuple[str, ...], *, image: str = IMAGE,
                 container_extra: str = "", spec_extra: str = "") -> str:
    """A pod of one container "c" with a 1 s grace period: container_extra adds lines to
    the container (4-space indented), spec_extra to the spec (2-space indented)."""
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n"
            f"    image: {image}\n    command: {json.dumps(list(command))}\n"
            f"{container_extra}{spec_extra}")


def _flag(d: PodDaemon, name: str) -> str:
    return d.extra_args[d.extra_args.index(name) + 1]


def doctor_argv(d: PodDaemon, *extra: str) -> list[str]:
    """`podrun doctor` for the pods fixture's daemon: its root, run dir, cgroup root, CNI
    config and log dir."""
    return [str(PODRUN), "doctor", "-o", "json", "--root", str(d.root), "--run-dir",
            str(d.run_dir), "--cgroup-root", _flag(d, "--cgroup-root"), "--cni-conf-dir",
            _flag(d, "--cni-conf-dir"), "--log-dir", str(d.log_dir), "--api-socket",
            str(d.socket), *extra]


def run_doctor(d: PodDaemon, *extra: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
    p = subprocess.run(doctor_argv(d, *extra), capture_output=True, text=True,
                       timeout=timeout, check=False)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"doctor failed ({p.returncode}): {p.stdout}{p.stderr}") from None
    return p.returncode, doc


def leak_kinds(doc: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lk in doc.get("leaks", []):
        out.setdefault(lk["kind"], []).append(lk["id"])
    return out


def pause_pids(d: PodDaemon) -> list[int]:
    """Pause monitors of this daemon's run dir, from /proc."""
    want = str(d.run_dir / "sandboxes")
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            argv = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--monitor" in argv and any(a.decode(errors="replace").startswith(want)
                                        for a in argv):
            out.append(int(p.name))
    return out
