"""Container restart backoff (CrashLoopBackOff) and image pull backoff, as the kubelet does it.

BEHAVIOR.md section 3 (and section 0 for the image pull constants). The machinery is
client-go's util/flowcontrol Backoff without jitter: per-key entries of (backoff,
lastUpdate). Times are wall-clock seconds (finishedAt comes from exit records, which must
survive a daemon restart), always passed in by the caller; the state serializes to JSON.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# K8S: pkg/kubelet/kubelet.go containerBackOffPeriod / MaxContainerBackOff.
CONTAINER_BACKOFF_INITIAL = 10.0
CONTAINER_BACKOFF_MAX = 300.0
# Newer kubelets pin expiry to 600 s with HasExpiredFunc (was 2 x max in client-go).
CONTAINER_BACKOFF_EXPIRY = 600.0
# K8S: pkg/kubelet/kubelet.go imageBackOffPeriod / MaxImageBackOff.
IMAGE_BACKOFF_INITIAL = 10.0
IMAGE_BACKOFF_MAX = 300.0

STATE_VERSION = 1


@dataclass(frozen=True)
class BackoffConfig:
    """initial delay, cap, and the quiet time after which an entry starts over."""

    initial: float = CONTAINER_BACKOFF_INITIAL
    max: float = CONTAINER_BACKOFF_MAX
    expiry: float = CONTAINER_BACKOFF_EXPIRY

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.max <= 0 or self.expiry <= 0:
            raise ValueError(f"backoff durations must be positive: {self}")

    @classmethod
    def crash_loop(cls, max_container_restart_period: float | None = None) -> BackoffConfig:
        """The container restart backoff (BEHAVIOR.md 3).

        `max_container_restart_period` is KubeletCrashLoopBackOffMax's
        crashLoopBackOff.maxContainerRestartPeriod (1..300 s): it replaces the cap, and
        when it is below the initial 10 s the initial delay equals the cap. Expiry stays
        600 s (HasExpiredFunc).
        """
        if max_container_restart_period is None:
            return cls()
        if not 1 <= max_container_restart_period <= CONTAINER_BACKOFF_MAX:
            raise ValueError(
                "crashLoopBackOff.maxContainerRestartPeriod must be between 1s and 300s, "
                f"got {max_container_restart_period:g}s")
        cap = float(max_container_restart_period)
        return cls(initial=min(CONTAINER_BACKOFF_INITIAL, cap), max=cap)

    @classmethod
    def image_pull(cls) -> BackoffConfig:
        """The image pull backoff: 10 s doubling to 300 s; client-go's default expiry of
        2 x max (BEHAVIOR.md 0)."""
        return cls(initial=IMAGE_BACKOFF_INITIAL, max=IMAGE_BACKOFF_MAX,
                   expiry=2 * IMAGE_BACKOFF_MAX)


@dataclass
class BackoffEntry:
    backoff: float
    last_update: float


class Backoff:
    """Per-key exponential backoff (client-go flowcontrol.Backoff, no jitter).

    Container restarts (kuberuntime doBackOff, BEHAVIOR.md 3):
        if b.in_backoff(key, finished_at, now): wait (CrashLoopBackOff) until restart_at()
        else: b.next(key, finished_at, now); restart now
    Image pulls use in_backoff_since_update(key, now) before a pull and next(key, now, now)
    after a failed one.
    """

    def __init__(self, config: BackoffConfig | None = None) -> None:
        self.config = config or BackoffConfig()
        self._entries: dict[str, BackoffEntry] = {}

    def get(self, key: str) -> float:
        """The current backoff of `key` in seconds, 0 if it has none."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def _expired(self, event_time: float, entry: BackoffEntry) -> bool:
        # flowcontrol hasExpired / the kubelet's HasExpiredFunc: strictly greater.
        return event_time - entry.last_update > self.config.expiry

    def in_backoff(self, key: str, finished_at: float, now: float) -> bool:
        """IsInBackOffSince: an unexpired entry and now - finishedAt < backoff."""
        entry = self._entries.get(key)
        if entry is None or self._expired(finished_at, entry):
            return False
        return now - finished_at < entry.backoff

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        """IsInBackOffSinceUpdate: as in_backoff, measured from the last update (image
        pulls have no finishedAt)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry):
            return False
        return now - entry.last_update < entry.backoff

    def next(self, key: str, finished_at: float, now: float) -> float:
        """Next: no entry or an expired one starts at the initial delay, otherwise the
        delay doubles up to the cap. lastUpdate becomes `now`. Returns the new backoff."""
        entry = self._entries.get(key)
        if entry is None or self._expired(finished_at, entry):
            backoff = min(self.config.initial, self.config.max)
        else:
            backoff = min(entry.backoff * 2, self.config.max)
        self._entries[key] = BackoffEntry(backoff=backoff, last_update=now)
        return backoff

    def restart_at(self, key: str, finished_at: float) -> float:
        """When the backoff of an exited container ends: the moment to wake the pod worker
        (podrun restarts exactly at expiry, as after PR #133066)."""
        return finished_at + self.get(key)

    def remaining(self, key: str, finished_at: float, now: float) -> float:
        """Seconds until a restart is allowed; 0 when not in backoff."""
        if not self.in_backoff(key, finished_at, now):
            return 0.0
        return max(0.0, self.restart_at(key, finished_at) - now)

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self, now: float) -> list[str]:
        """Drop entries quiet for longer than the expiry (flowcontrol GC); returns them."""
        gone = [k for k, e in self._entries.items() if now - e.last_update > self.config.expiry]
        for k in gone:
            del self._entries[k]
        return gone

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    # -- persistence: a restarted daemon keeps its timers ----------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "config": {"initial": self.config.initial, "max": self.config.max,
                       "expiry": self.config.expiry},
            "entries": {k: {"backoff": e.backoff, "lastUpdate": e.last_update}
                        for k, e in sorted(self._entries.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], config: BackoffConfig | None = None) -> Backoff:
        """Rebuild from to_dict(). `config` (the daemon's current settings) wins over the
        stored one so a changed cap applies at once; entries above it are clamped."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"backoff state version {data.get('version')!r} is not {STATE_VERSION}")
        if config is None:
            c = data.get("config", {})
            config = BackoffConfig(initial=float(c["initial"]), max=float(c["max"]),
                                   expiry=float(c["expiry"]))
        b = cls(config)
        for key, e in data.get("entries", {}).items():
            b._entries[str(key)] = BackoffEntry(backoff=min(float(e["backoff"]), config.max),
                                                last_update=float(e["lastUpdate"]))
        return b

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def loads(cls, text: str, config: BackoffConfig | None = None) -> Backoff:
        return cls.from_dict(json.loads(text), config)


# ---------------------------------------------------------------------------------------
# Keys and messages
# ---------------------------------------------------------------------------------------


def container_hash(name: str, image: str) -> str:
    """A stable hash over only the container's name and image (BEHAVIOR.md 3 "Key"), hex.

    The kubelet hashes a v1.Container holding just those two fields (fnv32a over its
    JSON); podrun uses crc32 over its own canonical JSON, so the digits differ from the
    kubelet's but the property holds: a new image gives a new key and a fresh backoff.
    """
    doc = json.dumps({"image": image, "name": name}, sort_keys=True, separators=(",", ":"))
    return format(zlib.crc32(doc.encode()), "x")


def container_backoff_key(pod_name: str, namespace: str, pod_uid: str, container_name: str,
                          image: str) -> str:
    """GetStableKey: <podName>_<namespace>_<podUID>_<containerName>_<hash(name, image)>."""
    return "_".join((pod_name, namespace, pod_uid, container_name,
                     container_hash(container_name, image)))


def image_backoff_key(pod_uid: str, image: str) -> str:
    """The image puller's backoff key: <podUID>_<image> (recalled)."""
    return f"{pod_uid}_{image}"


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration.String() prints it: 10s, 1m20s, 5m0s, 1.5s, 0s.

    The kubelet formats the backoff with %v, so this is what users and tests see.
    """
    if seconds == 0:
        return "0s"
    neg = seconds < 0
    ns = round(abs(seconds) * 1e9)
    if ns < 1_000_000_000:
        # sub-second: the largest of ms/us/ns that keeps a leading digit
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return ("-" if neg else "") + _trim(ns / size) + unit
    hours, rem = divmod(ns, 3600 * 10**9)
    minutes, rem = divmod(rem, 60 * 10**9)
    secs = _trim(rem / 1e9)
    out = ""
    if hours:
        out = f"{hours}h{minutes}m"
    elif minutes:
        out = f"{minutes}m"
    return ("-" if neg else "") + out + secs + "s"


def _trim(x: float) -> str:
    text = f"{x:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def crash_loop_message(backoff: float, container: str, pod_name: str, namespace: str,
                       pod_uid: str) -> str:
    """The waiting message and BackOff event text (BEHAVIOR.md 3, doBackOff):
    back-off 20s restarting failed container=<c> pod=<name>_<ns>(<uid>)."""
    return (f"back-off {go_duration(backoff)} restarting failed container={container} "
            f"pod={pod_name}_{namespace}({pod_uid})")


def image_pull_backoff_message(image: str) -> str:
    """The ImagePullBackOff waiting message and event text (recalled)."""
    return f'Back-off pulling image "{image}"'
