"""v1 wire shapes shared by the daemon's API and the CLI: Status, lists, watch events,
label/field selectors and the API server's timestamp formats."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podrun.api.reasons import REASONS
from podrun.errors import FieldError

# Resource name (URL segment) -> kind, as in the API server's discovery.
KINDS = {"pods": "Pod", "configmaps": "ConfigMap", "secrets": "Secret", "events": "Event"}
SINGULAR = {"pods": "pod", "configmaps": "configmap", "secrets": "secret", "events": "event"}

# The API server's request body limit (apiserver's MaxRequestBodyBytes is 3 MiB).
MAX_BODY_BYTES = 3 * 1024 * 1024



def now_rfc3339() -> str:
    """metav1.Time: RFC 3339 in UTC, whole seconds (as the API server serialises it)."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339_nano() -> str:
    """RFC 3339 with nanoseconds (Go's time.RFC3339Nano; Python has microseconds)."""
    t = _dt.datetime.now(_dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def parse_time(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        v = value.replace("Z", "+00:00")
        # Python 3.11 parses at most 6 fractional digits: trim nanoseconds.
        v = re.sub(r"\.(\d{6})\d+", r".\1", v)
        return _dt.datetime.fromisoformat(v)
    except ValueError:
        return None


def status(code: int, message: str, *, reason: str | None = None,
           details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A v1 Status object for an error (or a Success for code 200)."""
    out: dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason if reason is not None else REASONS.get(code, ""),
        "code": code,
    }
    if details is not None:
        out["details"] = details
    if code < 400:
        out["reason"] = reason or ""
    return out


def not_found(resource: str, name: str) -> dict[str, Any]:
    return status(404, f'{resource} "{name}" not found',
                  details={"name": name, "kind": resource})


def already_exists(resource: str, name: str) -> dict[str, Any]:
    return status(409, f'{resource} "{name}" already exists', reason="AlreadyExists",
                  details={"name": name, "kind": resource})


def conflict(resource: str, name: str) -> dict[str, Any]:
    return status(409, f'Operation cannot be fulfilled on {resource} "{name}": the object '
                       "has been modified; please apply your changes to the latest version "
                       "and try again", reason="Conflict",
                  details={"name": name, "kind": resource})


def invalid(kind: str, name: str, errors: list[FieldError]) -> dict[str, Any]:
    """422 Invalid with one cause per field error, worded like the API server:
    `Pod "x" is invalid: [spec.containers[0].image: Required value, ...]`."""
    parts = [str(e) for e in errors]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    causes = [{"reason": _cause_reason(e.message), "message": e.message, "field": e.path}
              for e in errors]
    return status(422, f'{kind} "{name}" is invalid: {joined}',
                  details={"name": name, "kind": kind.lower() + "s" if kind else "",
                           "causes": causes})


def _cause_reason(message: str) -> str:
    # field.ErrorType strings the API server emits as the cause reason.
    for prefix, reason in (("Required value", "FieldValueRequired"),
                           ("Unsupported value", "FieldValueNotSupported"),
                           ("Duplicate value", "FieldValueDuplicate"),
                           ("Forbidden", "FieldValueForbidden"),
                           ("Too long", "FieldValueTooLong"),
                           ("Too many", "FieldValueTooMany"),
                           ("Not found", "FieldValueNotFound"),
                           ('unknown field', "FieldValueInvalid")):
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def list_object(resource: str, items: list[dict[str, Any]], rv: str) -> dict[str, Any]:
    return {"kind": KINDS[resource] + "List", "apiVersion": "v1",
            "metadata": {"resourceVersion": rv}, "items": items}


def warning_header(message: str) -> str:
    """One RFC 7234 warning value as the API server sends it: 299 - "text"."""
    text = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'299 - "{text}"'


def field_warning(err: object) -> str:
    """A decoding warning as the API server words it: `unknown field "spec.x"`."""
    path, message = getattr(err, "path", ""), getattr(err, "message", str(err))
    if message in ("unknown field", "duplicate field") and path:
        return f'{message} "{path}"'
    return str(err)


def parse_warning_header(value: str) -> list[str]:
    return [m.group(1).replace('\\"', '"').replace("\\\\", "\\")
            for m in re.finditer(r'299 - "((?:[^"\\]|\\.)*)"', value)]


# ---------------------------------------------------------------- selectors

@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        v = labels.get(self.key)
        if self.op == "=":
            return has and v == self.values[0]
        if self.op == "!=":
            return not has or v != self.values[0]
        if self.op == "in":
            return has and v in self.values
        if self.op == "notin":
            return not has or v not in self.values
        if self.op == "exists":
            return has
        return not has


class SelectorError(ValueError):
    pass


_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\)|(==|!=|=)\s*([A-Za-z0-9_.-]*))?\s*$")


def _split_top(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p for p in out if p.strip()]


def parse_label_selector(s: str | None) -> list[Requirement]:
    """kubectl's -l grammar: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a."""
    if not s:
        return []
    reqs = []
    for part in _split_top(s):
        m = _SET_RE.match(part)
        if not m:
            raise SelectorError(f'unable to parse requirement: "{part.strip()}"')
        neg, key, setop, setvals, op, val = m.groups()
        if neg:
            if setop or op:
                raise SelectorError(f'unable to parse requirement: "{part.strip()}"')
            reqs.append(Requirement(key, "!"))
        elif setop:
            vals = tuple(v.strip() for v in setvals.split(",") if v.strip())
            reqs.append(Requirement(key, setop, vals))
        elif op:
            reqs.append(Requirement(key, "!=" if op == "!=" else "=", (val,)))
        else:
            reqs.append(Requirement(key, "exists"))
    return reqs


FIELD_PATHS = ("metadata.name", "metadata.namespace", "spec.nodeName", "status.phase",
               "spec.restartPolicy", "status.podIP", "type", "reason",
               "involvedObject.name", "involvedObject.namespace", "involvedObject.kind",
               "involvedObject.uid")


def parse_field_selector(s: str | None) -> list[Requirement]:
    if not s:
        return []
    reqs = []
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise SelectorError(f'invalid selector: \'{part}\'; can\'t understand \'{part}\'')
        key, op, val = m.groups()
        if key not in FIELD_PATHS:
            raise SelectorError(f'field label not supported: {key}')
        reqs.append(Requirement(key, "!=" if op == "!=" else "=", (val,)))
    return reqs


def field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for p in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(p)
    return "" if cur is None else str(cur)


def selects(obj: Mapping[str, Any], labels: list[Requirement],
            fields: list[Requirement]) -> bool:
    meta = obj.get("metadata") or {}
    lab = meta.get("labels") or {}
    if not all(r.matches(lab) for r in labels):
        return False
    for r in fields:
        v = field_value(obj, r.key)
        if (v == r.values[0]) != (r.op == "="):
            return False
    return True
