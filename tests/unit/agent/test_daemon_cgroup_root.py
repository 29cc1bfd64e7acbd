"""The daemon's choice of cgroup root: --cgroup-root, else under the shipped systemd units
the pods unit's cgroup ($PODRUN_PODS_UNIT, docs/cgroups.md "Under systemd"), else the
default below the cgroup v2 mount."""

from __future__ import annotations

from pathlib import Path

import pytest

from podrun.agent.daemon import Daemon, resolve_settings
from podrun.runtime import cgroups


def _daemon(flags: dict[str, object]) -> Daemon:
    return Daemon(resolve_settings(flags, None))


def test_flag_wins_over_the_pods_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cgroups.PODS_UNIT_ENV, "podrun-pods.service")
    monkeypatch.setattr(cgroups, "enter_pods_unit", pytest.fail)  # never asked
    assert _daemon({"cgroup_root": "/sys/fs/cgroup/x"}).cgroup_root() == "/sys/fs/cgroup/x"


def test_without_the_variable_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cgroups.PODS_UNIT_ENV, raising=False)
    monkeypatch.setattr(cgroups, "enter_pods_unit", pytest.fail)
    assert _daemon({}).cgroup_root() == ""


def test_under_the_shipped_units_the_pods_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def enter(host: cgroups.CgroupHost, unit: str) -> Path:
        asked.append(unit)
        return Path("/sys/fs/cgroup/system.slice/podrun-pods.service/pods")

    monkeypatch.setenv(cgroups.PODS_UNIT_ENV, "podrun-pods.service")
    monkeypatch.setattr(cgroups, "enter_pods_unit", enter)
    assert _daemon({}).cgroup_root() == "/sys/fs/cgroup/system.slice/podrun-pods.service/pods"
    assert asked == ["podrun-pods.service"]
