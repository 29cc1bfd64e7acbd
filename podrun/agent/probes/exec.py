"""The exec probe: the runtime's blocking exec_sync in a thread, timeoutSeconds enforced.

K8S: pkg/probe/exec/exec.go and prober.go: exit 0 Success; another exit code Failure with
the combined output (10 KiB); a timeout Failure (`command "..." timed out`); a runtime error
(the command could not start, the container is gone) a probe error, retried then dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from podrun.core.probes import Outcome, ProbeRun, truncate_output

ExecSync = Callable[[str, str, list[str], float], Any]


def run_to_probe(argv: list[str], result: Any) -> ProbeRun:
    """Map an ExecResult(exit_code, stdout, stderr, timed_out, error) to a probe run."""
    output = truncate_output((result.stdout or b"") + (result.stderr or b""))
    if getattr(result, "timed_out", False):
        return ProbeRun(Outcome.FAILURE, f"command {_go_quote(' '.join(argv))} timed out")
    if getattr(result, "error", None):
        return ProbeRun(Outcome.UNKNOWN, "", error=str(result.error))
    if result.exit_code == 0:
        return ProbeRun(Outcome.SUCCESS, output)
    return ProbeRun(Outcome.FAILURE, output)


async def probe(exec_sync: ExecSync, sandbox_id: str, container_id: str, argv: list[str], *,
                timeout: float, executor: Executor | None = None) -> ProbeRun:
    """Run argv in the container; exec_sync blocks, so it runs in `executor`."""
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(executor, exec_sync, sandbox_id, container_id,
                                             list(argv), float(timeout))
    except Exception as e:  # the runtime could not exec at all: an error, not a failure
        return ProbeRun(Outcome.UNKNOWN, "", error=str(e) or type(e).__name__)
    return run_to_probe(argv, result)


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
