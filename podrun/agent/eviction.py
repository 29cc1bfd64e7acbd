"""emptyDir sizeLimit eviction: the kubelet eviction manager's local-storage check, for podrun.

The kubelet (pkg/kubelet/eviction/eviction_manager.go, emptyDirLimitEviction) measures
every emptyDir of every active pod on each housekeeping pass (10 s) and evicts a pod whose
usage of a volume exceeds that volume's `sizeLimit`. A `medium: Memory` emptyDir is a tmpfs
of `size=sizeLimit`, so in practice only disk-backed ones can go over; both are checked, as
the kubelet does. This module is the pure part plus the measurement; the engine acts on the
result.

How the engine acts on an `Eviction` (what the kubelet's evictPod does):

1. Skip pods that are not active: terminal (Succeeded/Failed), already terminating
   (deletionTimestamp set, or being killed), or not yet running any container. The kubelet
   passes only active pods to its eviction manager. `check_emptydir_usage` already returns
   nothing for critical pods (static or mirror pods, priority >= 2000000000): the kubelet
   refuses to evict them ("cannot evict a critical pod") and only logs.
2. Record one event on the pod: type Warning, reason `Evicted` (`REASON`), message
   `Eviction.message`, e.g. `Usage of EmptyDir volume "x" exceeds the limit "1Mi". ` (the
   kubelet's emptyDirMessageFmt, trailing space included; the limit is the quantity in
   canonical form, Go's Quantity.String()). Only the first offending volume is reported:
   the kubelet stops at the first one (`evictions[0]`).
3. Kill the pod: every container (init, sidecar, regular), with the kubelet's immediate
   eviction grace period (`GRACE_PERIOD_SECONDS`, 1 s; preStop hooks run within it), then
   the sandbox, as for a deletion-less kill. The pod is not restarted whatever its
   restartPolicy: an evicted pod is terminal.
4. Set the pod status: phase `Failed`, reason `Evicted`, message the same text. Container
   statuses end as the kill leaves them (terminated, exit code 137 / reason Error for
   SIGKILL'd ones, as the kubelet). The kubelet does not add a DisruptionTarget condition
   for local-storage evictions (evictPod gets no condition there).
5. Keep the pod object (kubectl shows STATUS `Evicted` from status.reason); volumes are
   torn down as for any terminated pod.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from podrun.agent.volumes import EMPTY_DIR
from podrun.spec.quantity import QuantityError, quantity_from_json
from podrun.spec.types import Pod

REASON = "Evicted"  # event reason and status.reason (eviction.Reason)
MESSAGE_FMT = 'Usage of EmptyDir volume "{volume}" exceeds the limit "{limit}". '
GRACE_PERIOD_SECONDS = 1  # immediateEvictionGracePeriodSeconds
CHECK_INTERVAL_SECONDS = 10.0  # the kubelet's eviction monitoring period (housekeeping)
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000  # scheduling.SystemCriticalPriority
SOURCE_ANNOTATION = "kubernetes.io/config.source"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass(frozen=True)
class Eviction:
    """One emptyDir over its sizeLimit."""

    volume: str
    used: int  # bytes (st_blocks * 512, each inode once)
    limit: int  # bytes
    limit_text: str  # sizeLimit in canonical form ("1Mi")

    @property
    def reason(self) -> str:
        return REASON

    @property
    def message(self) -> str:
        return MESSAGE_FMT.format(volume=self.volume, limit=self.limit_text)

    def event(self) -> tuple[str, str, str]:
        """(type, reason, message) as the engine records events."""
        return ("Warning", REASON, self.message)


def is_critical_pod(pod: Pod) -> bool:
    """kubelettypes.IsCriticalPod: a static pod (config source other than the API), a
    mirror pod, or a pod of system-critical priority."""
    ann: Mapping[str, str] = (pod.metadata.annotations if pod.metadata else None) or {}
    source = ann.get(SOURCE_ANNOTATION)
    if source is not None and source != "api":
        return True
    if MIRROR_ANNOTATION in ann:
        return True
    prio = pod.spec.priority if pod.spec else None
    return prio is not None and prio >= SYSTEM_CRITICAL_PRIORITY


def disk_usage(path: Path | str) -> int:
    """Bytes used below `path` as the kubelet's fs.DiskUsage measures it: st_blocks * 512
    of every entry (directories included), each inode counted once (hard links), never
    following symlinks and never crossing into another filesystem (mount points below,
    such as subPath binds, are skipped). Entries that vanish meanwhile are ignored; a
    missing `path` uses 0."""
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return 0
    seen = {top.st_ino}
    total = top.st_blocks * 512
    if not stat.S_ISDIR(top.st_mode):
        return total
    stack = [os.fspath(path)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if st.st_dev != top.st_dev:
                    continue
                if st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
                total += st.st_blocks * 512
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
    return total


def _limits(pod: Pod) -> Iterator[tuple[str, int, str]]:
    """(volume name, limit in bytes, canonical text) of every emptyDir with a positive
    sizeLimit."""
    for v in (pod.spec.volumes if pod.spec else None) or ():
        if v.empty_dir is None or v.empty_dir.size_limit is None:
            continue
        try:
            q = quantity_from_json(v.empty_dir.size_limit)
        except (QuantityError, ValueError):
            continue  # validation reports it; nothing to enforce
        if q.sign != 1:
            continue
        yield v.name or "", q.value(), str(q)


def evaluate(pod: Pod, usage: dict[str, int]) -> list[Eviction]:
    """The pure check: the emptyDirs whose measured usage (bytes, by volume name) is over
    their sizeLimit, in spec order. A volume without a measurement is not over."""
    out = []
    for name, limit, text in _limits(pod):
        used = usage.get(name)
        if used is not None and used > limit:
            out.append(Eviction(volume=name, used=used, limit=limit, limit_text=text))
    return out


def check_emptydir_usage(pod: Pod, pod_dir: Path, *, include_critical: bool = False
                         ) -> list[Eviction]:
    """Measure the pod's emptyDirs that have a sizeLimit (under
    `<pod_dir>/volumes/kubernetes.io~empty-dir/<name>`) and return those over their limit,
    in spec order; the engine evicts with the first (module docstring). Critical pods
    (static, mirror, system-critical priority) give [] unless `include_critical`, since
    the kubelet never evicts them. Blocking (walks directories): run it in a thread."""
    if not include_critical and is_critical_pod(pod):
        return []
    base = pod_dir / "volumes" / EMPTY_DIR
    usage = {name: disk_usage(base / name) for name, _, _ in _limits(pod)}
    return evaluate(pod, usage)


__all__ = ["CHECK_INTERVAL_SECONDS", "Eviction", "GRACE_PERIOD_SECONDS", "REASON",
           "check_emptydir_usage", "disk_usage", "evaluate", "is_critical_pod"]
