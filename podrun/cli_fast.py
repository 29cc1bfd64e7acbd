"""The `podrun` entry point: the hot commands without importing click.

`podrun get`, `apply`, `delete`, `logs` and `exec` run many times in scripts and tests, and
click's import is most of their start-up. This module parses exactly the command lines it
understands (the documented options, each in a form whose meaning is unambiguous), checks
their values as the click command would, and calls the same functions the click commands
call (podrun/cli_core.py). Everything else goes to click unchanged: --help, completion, an
unknown or malformed option, a bad value; so help, completion and every usage error are
click's own. Nothing is sent to the daemon before a command line is accepted.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs the CLI's start-up ~2 ms; only the type checker needs it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# option name -> (destination, kind): "flag", "value" or "multi" (repeatable)
Spec = dict[str, tuple[str, str]]
NAMESPACE: Spec = {"-n": ("namespace", "value"), "--namespace": ("namespace", "value")}
GET: Spec = {**NAMESPACE, "-A": ("all_namespaces", "flag"),
             "--all-namespaces": ("all_namespaces", "flag"),
             "-o": ("output", "value"), "--output": ("output", "value"),
             "-w": ("watch", "flag"), "--watch": ("watch", "flag"),
             "-l": ("selector", "value"), "--selector": ("selector", "value"),
             "--field-selector": ("field_selector", "value")}
APPLY: Spec = {**NAMESPACE, "-f": ("filenames", "multi"), "--filename": ("filenames", "multi"),
               "--wait": ("wait", "flag"), "--timeout": ("timeout", "value"),
               "--validate": ("mode", "value")}
DELETE: Spec = {**NAMESPACE, "-f": ("filenames", "multi"), "--filename": ("filenames", "multi"),
                "--grace-period": ("grace_period", "value"), "--force": ("force", "flag"),
                "--wait": ("wait", "bool"), "--timeout": ("timeout", "value")}
LOGS: Spec = {**NAMESPACE, "-c": ("container", "value"), "--container": ("container", "value"),
              "-f": ("follow", "flag"), "--follow": ("follow", "flag"),
              "-p": ("previous", "flag"), "--previous": ("previous", "flag"),
              "--tail": ("tail", "value"), "--timestamps": ("timestamps", "flag"),
              "--since": ("since", "value")}
EXEC: Spec = {**NAMESPACE, "-c": ("container", "value"), "--container": ("container", "value"),
              "-i": ("stdin", "flag"), "--stdin": ("stdin", "flag"),
              "-t": ("tty", "flag"), "--tty": ("tty", "flag")}
VALIDATE_MODES = ("strict", "warn", "ignore", "true", "false")
GET_OUTPUTS = ("wide", "json", "yaml", "name")
# click.BOOL's words
TRUE_WORDS = ("1", "true", "t", "yes", "y", "on")
FALSE_WORDS = ("0", "false", "f", "no", "n", "off")


class NotMine(Exception):
    """A command line this parser leaves to click."""


def parse(args: list[str], spec: Spec) -> tuple[dict[str, Any], list[str]]:
    """Options and positional arguments, interspersed as click allows; NotMine for any
    token whose meaning click would decide differently or reject."""
    opts: dict[str, Any] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        tok = rest.pop(0)
        if tok == "--" or (tok.startswith("-") and len(tok) > 1 and tok not in spec
                           and tok.partition("=")[0] not in spec):
            raise NotMine(tok)
        if not tok.startswith("-") or len(tok) == 1:
            positional.append(tok)
            continue
        name, eq, value = tok.partition("=")
        if eq and not name.startswith("--"):
            raise NotMine(tok)  # -n=x: click reads the value "=x"
        dest, kind = spec[name]
        if kind == "flag":
            if eq:
                raise NotMine(tok)
            opts[dest] = True
            continue
        if kind == "bool":  # an optional value (--wait, --wait=false)
            if not eq:
                if rest and not (rest[0].startswith("-") and len(rest[0]) > 1):
                    raise NotMine(tok)  # click would read the next word as the value
                opts[dest] = True
            elif value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
                opts[dest] = value.strip().lower() in TRUE_WORDS
            else:
                raise NotMine(tok)
            continue
        if not eq:
            if not rest or (rest[0].startswith("-") and len(rest[0]) > 1):
                raise NotMine(tok)
            value = rest.pop(0)
        if kind == "multi":
            opts.setdefault(dest, []).append(value)
        else:
            opts[dest] = value
    return opts, positional


def _duration_ok(value: str) -> bool:
    from podrun.cli_core import parse_duration
    return parse_duration(value if not value.isdigit() else value + "s") is not None


def _paths_ok(filenames: list[str]) -> bool:
    return all(f == "-" or os.path.exists(f) for f in filenames)


def get_command(args: list[str]) -> Callable[[str], None]:
    from podrun import cli_core
    o, pos = parse(args, GET)
    if not pos or o.get("output", "wide") not in GET_OUTPUTS:
        raise NotMine("get")
    return lambda sock: cli_core.get(
        sock, pos[0], tuple(pos[1:]), o.get("namespace"), bool(o.get("all_namespaces")),
        o.get("output"), bool(o.get("watch")), o.get("selector"), o.get("field_selector"))


def apply_command(args: list[str]) -> Callable[[str], None]:
    from podrun import cli_core
    o, pos = parse(args, APPLY)
    timeout, mode = o.get("timeout", "60s"), o.get("mode", "strict")
    files = o.get("filenames") or []
    if pos or not files or mode not in VALIDATE_MODES or not _duration_ok(timeout) \
            or not _paths_ok(files):
        raise NotMine("apply")
    return lambda sock: cli_core.apply(sock, tuple(files), o.get("namespace"),
                                       bool(o.get("wait")), timeout, mode)


def delete_command(args: list[str]) -> Callable[[str], None]:
    from podrun import cli_core
    o, pos = parse(args, DELETE)
    timeout, files = o.get("timeout", "0s"), o.get("filenames") or []
    try:
        grace = int(o.get("grace_period", -1))
    except ValueError:
        raise NotMine("delete") from None
    if not _duration_ok(timeout) or not _paths_ok(files) or (files and pos) \
            or (not files and len(pos) < 1):
        raise NotMine("delete")
    return lambda sock: cli_core.delete(sock, tuple(pos), o.get("namespace"), tuple(files),
                                        grace, bool(o.get("force")), o.get("wait", True),
                                        timeout)


def logs_command(args: list[str]) -> Callable[[str], None]:
    from podrun import cli_core
    o, pos = parse(args, LOGS)
    since = o.get("since")
    try:
        tail = int(o.get("tail", -1))
    except ValueError:
        raise NotMine("logs") from None
    if len(pos) != 1 or (since is not None and not _duration_ok(since)):
        raise NotMine("logs")
    return lambda sock: cli_core.logs(sock, pos[0], o.get("namespace"), o.get("container"),
                                      bool(o.get("follow")), bool(o.get("previous")), tail,
                                      bool(o.get("timestamps")), since)


def exec_command(args: list[str]) -> Callable[[str], None]:
    """Only `exec [OPTIONS] NAME [OPTIONS] -- CMD...`: before "--" click passes unknown
    options through as the command's (ignore_unknown_options), which is its to decide."""
    from podrun import cli_core
    if "--" not in args:
        raise NotMine("exec")
    cut = args.index("--")
    o, pos = parse(args[:cut], EXEC)
    command = args[cut + 1:]
    if len(pos) != 1 or not command:
        raise NotMine("exec")
    return lambda sock: cli_core.exec_(sock, pos[0], tuple(command), o.get("namespace"),
                                       o.get("container"), bool(o.get("stdin")),
                                       bool(o.get("tty")))


COMMANDS = {"get": get_command, "apply": apply_command, "delete": delete_command,
            "logs": logs_command, "exec": exec_command}


def dispatch(argv: list[str]) -> Callable[[], None] | None:
    """The command for argv (without the program name), or None: click's to run."""
    if "_PODRUN_COMPLETE" in os.environ:
        return None
    socket = None
    rest = list(argv)
    while rest and rest[0].startswith("--socket"):
        name, eq, value = rest.pop(0).partition("=")
        if name != "--socket" or (not eq and not rest):
            return None
        socket = value if eq else rest.pop(0)
    if not rest or rest[0] not in COMMANDS:
        return None
    try:
        run = COMMANDS[rest[0]](rest[1:])
    except NotMine:
        return None
    from podrun.cli_core import DEFAULT_SOCKET
    sock = socket or os.environ.get("PODRUN_SOCKET") or DEFAULT_SOCKET
    return lambda: run(sock)


class _Pacified:
    """click's PacifyFlushWrapper: a stream whose reader went away flushes quietly."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def run_command(command: Callable[[], None]) -> None:
    """Run as click's standalone mode does: Ctrl-C prints Aborted! (exit 1), a closed pipe
    ends quietly (exit 1)."""
    try:
        command()
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\nAborted!\n")
        sys.stderr.flush()
        sys.exit(1)
    except BrokenPipeError:
        sys.stdout = _Pacified(sys.stdout)
        sys.stderr = _Pacified(sys.stderr)
        sys.exit(1)


def exit_now(code: int) -> None:
    """Flush stdout/stderr and end the process without the interpreter's finalization
    (freeing every module and object: ~3 ms quiet, up to 10 ms on a loaded host, after
    the command's work is done; `apply --wait` is timed to its exit). Nothing else needs
    it: these commands start no threads and leave no file half-written. A flush that
    fails returns, and the normal exit reports it as before."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def main() -> None:
    command = dispatch(sys.argv[1:])
    if command is not None:
        from podrun.cli_core import UsageError
        try:
            run_command(command)
        except UsageError:
            pass  # found before anything was sent: click runs it again and says it its way
        else:
            exit_now(0)
            return
    from podrun.cli import main as click_main
    click_main()
