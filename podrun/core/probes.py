"""Probe worker decisions as the kubelet makes them (BEHAVIOR.md 4.2): pure, no I/O, no clock.

Defaults, initial results, the start jitter, tick alignment, skip rules (not running,
onHold, initialDelay, startup gating, termination), result runs against thresholds and the
kubelet's event and kill messages. podrun/agent/prober.py runs these on asyncio.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

# K8S: pkg/apis/core/v1/defaults.go SetDefaults_Probe (0 or absent means the default).
DEFAULT_TIMEOUT_SECONDS = 1
DEFAULT_PERIOD_SECONDS = 10
DEFAULT_SUCCESS_THRESHOLD = 1
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_INITIAL_DELAY_SECONDS = 0
# K8S: pkg/kubelet/prober/prober.go maxProbeRetries: only errors are retried.
MAX_PROBE_RETRIES = 3
# K8S: pkg/probe/http/http.go maxRespBodyLength, pkg/probe/exec/exec.go maxReadLength.
MAX_OUTPUT_BYTES = 10 * 1024
# K8S: pkg/probe/http redirectChecker: same host only, at most 10.
MAX_REDIRECTS = 10

# A published result: what the kubelet's results manager holds (None = Unknown/unset).
Published: TypeAlias = Literal["Success", "Failure"] | None
SUCCESS: Literal["Success"] = "Success"
FAILURE: Literal["Failure"] = "Failure"


class ProbeType(enum.Enum):
    """The three probe kinds; the value is the word the kubelet's events use."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"


class Outcome(enum.Enum):
    """What one probe run returned (K8S: pkg/probe Result); values as Go prints them."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProbeRun:
    """One probe execution: an outcome with its output, or an error (retried, then dropped)."""

    outcome: Outcome
    output: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Timing:
    """A probe's numbers with the API defaults applied."""

    initial_delay: int = DEFAULT_INITIAL_DELAY_SECONDS
    period: int = DEFAULT_PERIOD_SECONDS
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    success_threshold: int = DEFAULT_SUCCESS_THRESHOLD
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    termination_grace: int | None = None


def timing(*, initial_delay_seconds: int | None = None, period_seconds: int | None = None,
           timeout_seconds: int | None = None, success_threshold: int | None = None,
           failure_threshold: int | None = None,
           termination_grace_period_seconds: int | None = None) -> Timing:
    """Timing from a Probe's fields (keyword names as in spec.types.Probe); 0/None -> default."""
    return Timing(
        initial_delay=max(0, initial_delay_seconds or 0),
        period=max(1, period_seconds or DEFAULT_PERIOD_SECONDS),
        timeout=max(1, timeout_seconds or DEFAULT_TIMEOUT_SECONDS),
        success_threshold=max(1, success_threshold or DEFAULT_SUCCESS_THRESHOLD),
        failure_threshold=max(1, failure_threshold or DEFAULT_FAILURE_THRESHOLD),
        termination_grace=termination_grace_period_seconds or None,
    )


def initial_result(probe_type: ProbeType) -> Published:
    """K8S worker.go newWorker: readiness Failure, liveness Success, startup Unknown."""
    if probe_type is ProbeType.READINESS:
        return FAILURE
    if probe_type is ProbeType.LIVENESS:
        return SUCCESS
    return None


def start_jitter(period: float, daemon_age: float, rand01: float) -> float:
    """Seconds to wait before the first run: a random part of a period, only right after start.

    K8S worker.go run(): only if the kubelet started less than one period ago.
    """
    if period > daemon_age:
        return max(0.0, min(1.0, rand01)) * period
    return 0.0


def next_run(first_tick: float, period: float, prev_tick: float, now: float
             ) -> tuple[float, float]:
    """(when to run next, the aligned tick that run stands for) after the run for `prev_tick`.

    Ticks stay aligned to the worker's start (first_tick + k*period). Like a Go ticker with
    its one-slot channel, ticks missed during a long probe collapse into one run at once.
    """
    nxt = prev_tick + period
    if nxt > now:
        return nxt, nxt
    k = math.floor((now - first_tick) / period)
    return now, first_tick + k * period


class Gate(enum.Enum):
    """What a tick does before running the probe (K8S worker.go doProbe, in order)."""

    PROBE = "probe"
    NOT_RUNNING = "not running"
    ON_HOLD = "on hold"
    INITIAL_DELAY = "initial delay"
    NOT_STARTED = "waiting for startup"
    STARTED = "startup done"
    STOP_TERMINATING = "terminating"


@dataclass
class WorkerState:
    """One probe worker's memory: the container it follows, the result run and onHold."""

    probe_type: ProbeType
    timing: Timing
    container_id: str | None = None
    published: Published = None
    last_outcome: Published = None
    result_run: int = 0
    on_hold: bool = False
    stopped: bool = False

    def __post_init__(self) -> None:
        if self.container_id is None:
            self.published = initial_result(self.probe_type)

    def observe_container(self, container_id: str | None) -> bool:
        """Follow a (possibly new) container id; True when the published value was reset.

        A new id: result back to its initial value, counters and onHold cleared (4.2 step 2).
        """
        if not container_id or container_id == self.container_id:
            return False
        self.container_id = container_id
        self.published = initial_result(self.probe_type)
        self.last_outcome = None
        self.result_run = 0
        self.on_hold = False
        return True

    def gate(self, *, running: bool, terminating: bool, started: bool, now_wall: float,
             started_at: float | None) -> Gate:
        """Whether this tick probes; the skip reasons in the kubelet's order."""
        if self.on_hold:
            return Gate.ON_HOLD
        if not running:
            return Gate.NOT_RUNNING
        if terminating and self.probe_type is not ProbeType.READINESS:
            return Gate.STOP_TERMINATING
        if started_at is not None and int(now_wall - started_at) < self.timing.initial_delay:
            return Gate.INITIAL_DELAY
        if started:
            if self.probe_type is ProbeType.STARTUP:
                return Gate.STARTED
        elif self.probe_type is not ProbeType.STARTUP:
            return Gate.NOT_STARTED
        return Gate.PROBE

    def terminate(self) -> bool:
        """Pod termination for liveness/startup: publish Success and stop; True if it changed."""
        self.stopped = True
        changed = self.published != SUCCESS
        self.published = SUCCESS
        return changed

    def record(self, result: Published) -> bool:
        """Count a probe result (Success or Failure); True when the published value changed.

        Only `failure_threshold` Failures (or `success_threshold` Successes) in a row publish;
        a published liveness/startup Failure puts the worker on hold until a new container.
        """
        if result == self.last_outcome:
            self.result_run += 1
        else:
            self.last_outcome = result
            self.result_run = 1
        if result == FAILURE and self.result_run < self.timing.failure_threshold:
            return False
        if result == SUCCESS and self.result_run < self.timing.success_threshold:
            return False
        changed = self.published != result
        self.published = result
        if self.probe_type is not ProbeType.READINESS and result == FAILURE:
            self.on_hold = True
            self.result_run = 0
        return changed


def result_of(run: ProbeRun) -> Published:
    """Map a probe run to the value counted by the worker; None means "throw it away"."""
    if run.error is not None:
        return None
    if run.outcome in (Outcome.SUCCESS, Outcome.WARNING):
        return SUCCESS
    return FAILURE


def event_for(probe_type: ProbeType, run: ProbeRun) -> tuple[str, str, str] | None:
    """The (type, reason, message) event the kubelet's prober.go records for a run, if any."""
    kind = probe_type.value
    if run.error is not None:
        return ("Warning", "Unhealthy",
                f"{kind} probe errored and resulted in {run.outcome.value} state: {run.error}")
    if run.outcome is Outcome.WARNING:
        return ("Warning", "ProbeWarning", f"{kind} probe warning: {run.output}")
    if run.outcome is Outcome.FAILURE:
        return ("Warning", "Unhealthy", f"{kind} probe failed: {run.output}")
    return None


def kill_message(probe_type: ProbeType, container_name: str) -> str:
    """The Killing event text after a liveness or startup Failure (BEHAVIOR.md 2.5)."""
    word = "liveness" if probe_type is ProbeType.LIVENESS else "startup"
    return f"Container {container_name} failed {word} probe, will be restarted"


def container_started(*, running: bool, has_startup_probe: bool, startup: Published) -> bool:
    """BEHAVIOR.md 2.4 started: running and (no startup probe or it succeeded)."""
    return running and (not has_startup_probe or startup == SUCCESS)


def container_ready(*, started: bool, has_readiness_probe: bool, readiness: Published) -> bool:
    """BEHAVIOR.md 2.4 ready: started and (readiness Success, or no readiness probe)."""
    return started and (not has_readiness_probe or readiness == SUCCESS)


def truncate_output(data: bytes, limit: int = MAX_OUTPUT_BYTES) -> str:
    """Probe output as the kubelet keeps it: the first 10 KiB, decoded leniently."""
    return data[:limit].decode("utf-8", errors="replace")


def expand_static(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """`$(VAR)` expansion as K8S third_party/forked/golang/expansion (BEHAVIOR.md 10.4).

    `$$` is a literal `$`; an undefined `$(NAME)` or an unclosed `$(` stays as written;
    `$` before anything else passes through. For exec probes and hooks `env` holds only the
    container's env entries with a literal value (ExpandContainerCommandOnlyStatic).
    """
    return [_expand(a, env) for a in args]


def _expand(s: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = s[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = s.find(")", i + 2)
            if end < 0:
                out.append(s[i:])
                break
            name = s[i + 2:end]
            out.append(env[name] if name in env else s[i:end + 1])
            i = end + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def static_env(entries: Sequence[tuple[str | None, str | None, bool]]) -> dict[str, str]:
    """The mapping for exec probe expansion from (name, value, has_value_from) env entries.

    Values are themselves expanded with the entries defined before them, as the kubelet
    builds the env; entries using valueFrom are left out.
    """
    env: dict[str, str] = {}
    for name, value, has_value_from in entries:
        if not name or has_value_from:
            continue
        env[name] = _expand(value or "", env)
    return env


class PortError(ValueError):
    """A probe or hook port that cannot be resolved: a probe error, never a Failure."""


def resolve_port(port: int | str | None, named: Mapping[str, int]) -> int:
    """K8S pkg/probe/util.go ResolveContainerPort: a number as is, a name via ports[].name."""
    if isinstance(port, str):
        if port not in named:
            raise PortError(f'port "{port}" not found')
        value = named[port]
    elif port is None:
        raise PortError("intOrString had no kind: {0 0 }")
    else:
        value = port
    if 0 < value < 65536:
        return value
    raise PortError(f"invalid port number: {value}")
