"""docs/support.md is generated from podrun/spec/support_table.py and cannot drift."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from podrun.spec import load_text, support
from podrun.spec import support_table as ST
from podrun.spec import types as T
from podrun.spec.types import Pod

DOC = Path(__file__).resolve().parents[3] / "docs" / "support.md"
REGEN = ".venv/bin/python -m podrun.spec.support_table > docs/support.md"


def model_fields() -> set[tuple[str, str]]:
    """Every (class, JSON field) reachable from Pod, found independently of the walk."""
    out: set[tuple[str, str]] = set()
    todo: list[type] = [T.Pod]
    seen: set[type] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        hints = ST._hints(cls)
        for fl in dataclasses.fields(cls):
            out.add((cls.__name__, str(fl.metadata["json"])))
            todo.extend(ST._model_classes(hints[fl.name]))
    return out


def test_doc_is_current() -> None:
    assert DOC.read_text() == ST.render(), f"docs/support.md is stale: run `{REGEN}`"


def test_every_model_field_once_in_the_doc() -> None:
    seen: dict[tuple[str, str], int] = {}
    cls = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            cls = line[3:].strip()
            continue
        m = re.match(r"\| `([^`]+)` \| (supported|reported|n/a|IGNORED) \|", line)
        if m:
            assert cls is not None
            field = re.sub(r"\[\*\]$", "", m.group(1).rsplit(".", 1)[-1])
            seen[(cls, field)] = seen.get((cls, field), 0) + 1
    want = model_fields()
    assert set(seen) == want, (sorted(want - set(seen)), sorted(set(seen) - want))
    assert all(n == 1 for n in seen.values()), [k for k, n in seen.items() if n != 1]


def test_rows_cover_the_model_exactly_once() -> None:
    keys = [(r.cls, r.field) for r in ST.rows()]
    assert len(keys) == len(set(keys))
    assert set(keys) == model_fields()


def test_no_stale_decisions() -> None:
    fields = model_fields()
    classes = {c for c, _ in fields}
    assert not [k for k in ST.FIELD_RULES if tuple(k.split(".", 1)) not in fields]
    assert not [k for k in ST.CLASS_RULES if k not in classes]


def test_ignored_rows_have_a_proposed_warning_and_every_proposal_is_used() -> None:
    rows = ST.rows()
    used = set()
    for r in rows:
        if r.status == ST.IGNORED:
            assert r.note.startswith("no warning yet; proposed: "), r
        key = r.path if r.path in ST.PROPOSED_WARNINGS else None
        if key:
            used.add(key)
    # Proposals for the other probe/hook paths of a class listed once are used too.
    rest = set(ST.PROPOSED_WARNINGS) - used - set(ST._PROPOSED_FOR.values())
    for path in rest:
        leaf = path.rsplit(".", 1)[1]
        assert any(r.field == leaf and r.status == ST.IGNORED for r in rows), path


def test_support_warnings_are_reported_unless_known_stale() -> None:
    by_path = {r.path: r for r in ST.rows()}
    for name in support.POD_FIELDS:
        row = by_path[f"spec.{name}"]
        if f"spec.{name}" in ST.STALE_WARNINGS:
            assert row.status == ST.SUPPORTED
        else:
            assert row.status == ST.REPORTED, row
            assert support.POD_FIELDS[name] in row.note


def test_a_warning_merged_into_support_turns_the_row_reported(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(support, "FIELD_WARNINGS",
                        {"spec.containers[*].tty": "not supported: no terminal"},
                        raising=False)
    row = next(r for r in ST.rows() if r.path == "spec.containers[*].tty")
    assert row.status == ST.REPORTED and row.note == "warning: not supported: no terminal"


def test_no_field_is_silently_ignored() -> None:
    # DESIGN.md 7.5: every field is supported, reported by a warning, or not applicable.
    assert [r.path for r in ST.rows() if r.status == ST.IGNORED] == []


def test_field_warnings_walker() -> None:
    recs = load_text("""
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default, finalizers: [x/y]}
spec:
  nodeSelector: {disk: ssd}
  initContainers:
  - {name: i, image: busybox, tty: true}
  containers:
  - name: c
    image: busybox
    stdinOnce: false
    volumeMounts: [{name: v, mountPath: /v, recursiveReadOnly: Disabled}]
  volumes:
  - name: v
    configMap:
      name: cm
      items: [{key: a, path: a}]
""")
    assert len(recs) == 1 and isinstance(recs[0].obj, Pod)
    got = {(e.path, e.message) for e in support.unsupported_warnings(recs[0].obj)}
    paths = {p for p, _ in got}
    assert "metadata.finalizers" in paths
    assert "spec.nodeSelector" in paths
    assert "spec.initContainers[0].tty" in paths
    assert "spec.containers[0].volumeMounts[0].recursiveReadOnly" in paths
    assert not any("stdinOnce" in p for p in paths)  # false is "not set"
    assert not any(".user" in p for p in paths)
