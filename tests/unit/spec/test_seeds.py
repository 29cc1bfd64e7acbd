"""Every seed manifest (../shared/manifests/seeds) gives the result its INDEX.tsv states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podrun.spec.parse import Loaded, load_text

SEEDS = Path(__file__).resolve().parents[3].parent / "shared/manifests/seeds"
INDEX = SEEDS / "INDEX.tsv"

pytestmark = pytest.mark.skipif(
    not INDEX.is_file(),
    reason=f"seed manifests not present at {SEEDS} (the shared/ checkout is absent)",
)


def _index() -> list[tuple[str, str, str]]:
    if not INDEX.is_file():
        return []
    rows = []
    for line in INDEX.read_text().splitlines()[1:]:
        if line.strip():
            name, kinds, _what, expected = line.split("\t")
            rows.append((name, kinds, expected))
    return rows


def _segment_name(seg: str) -> str:
    return seg.split("[", 1)[0]


def _split_top(path: str) -> list[str]:
    return path.split(".")


def expand_paths(spec: str) -> list[str]:
    """`a.b.c[x], c[y], d` -> full paths: later entries are relative to the first one.

    A relative entry starts at the last segment of the first path with the same name
    (`limits[memory]` next to `...resources.limits[cpu]`); otherwise it reuses the previous
    relative prefix, or the first path's parent."""
    parts = [p.strip() for p in spec.split(", ")]
    first = parts[0]
    out = [first]
    segs = _split_top(first)
    prefix: list[str] | None = None
    for rel in parts[1:]:
        head = _segment_name(rel.split(".", 1)[0])
        hits = [i for i, s in enumerate(segs) if _segment_name(s) == head]
        if hits:
            prefix = segs[: hits[-1]]
        elif prefix is None:
            prefix = segs[:-1]
        out.append(".".join([*prefix, rel]))
    return out


def expected_errors(expected: str) -> list[tuple[str, str]]:
    body = expected[len("invalid ") :]
    out = []
    for item in body.split("; "):
        paths, _, reason = item.partition(": ")
        for p in expand_paths(paths):
            out.append((p, reason))
    return out


_UNSUPPORTED = re.compile(r'^Unsupported value ("[^"]*") \((.*)\)$')


def reason_matches(reason: str, message: str) -> bool:
    """The INDEX words reasons loosely; compare what they say."""
    reason = re.sub(r" \((unquoted|the article)[^)]*\)$", "", reason)
    m = _UNSUPPORTED.match(reason)
    if m:
        value, allowed = m.groups()
        return message.startswith(f"Unsupported value: {value}: supported values: ") and all(
            f'"{v}"' in message for v in allowed.split(", ")
        )
    return reason in message


def _load(name: str) -> list[Loaded]:
    return load_text((SEEDS / name).read_text(), name, field_validation="Strict")


def test_expand_paths() -> None:
    assert expand_paths("spec.containers[0].livenessProbe.httpGet, livenessProbe.tcpSocket") == [
        "spec.containers[0].livenessProbe.httpGet",
        "spec.containers[0].livenessProbe.tcpSocket",
    ]
    assert expand_paths(
        "spec.containers[0].resources.limits[cpu], limits[memory], requests[cpu], requests[memory]"
    ) == [
        "spec.containers[0].resources.limits[cpu]",
        "spec.containers[0].resources.limits[memory]",
        "spec.containers[0].resources.requests[cpu]",
        "spec.containers[0].resources.requests[memory]",
    ]
    assert expand_paths("spec.containers[0].livenessProbe.initialDelaySeconds, timeoutSeconds") == [
        "spec.containers[0].livenessProbe.initialDelaySeconds",
        "spec.containers[0].livenessProbe.timeoutSeconds",
    ]
    assert expand_paths("spec.volumes[0].hostPath, volumes[0].secret") == [
        "spec.volumes[0].hostPath",
        "spec.volumes[0].secret",
    ]


def test_index_covers_every_seed() -> None:
    names = {row[0] for row in _index()}
    files = {p.name for p in SEEDS.iterdir() if p.name != "INDEX.tsv"}
    assert names == files


@pytest.mark.parametrize(("name", "kinds", "expected"), _index(), ids=[r[0] for r in _index()])
def test_seed(name: str, kinds: str, expected: str) -> None:
    recs = _load(name)
    assert [r.kind for r in recs] == kinds.split(","), "one record per document, kinds in order"
    if expected == "valid":
        for r in recs:
            assert r.errors == [], f"{r.location}: {[str(e) for e in r.errors]}"
            assert r.obj is not None
        return
    if expected.startswith("unsupported-kind "):
        kind = expected.split(" ", 1)[1]
        bad = [r for r in recs if r.unsupported_kind]
        assert bad, "no document was refused for its kind"
        assert bad[0].kind == kind
        assert any(
            f'"{kind}"' in e.message and "podrun runs Pods" in e.message for e in bad[0].errors
        )
        # Documents before the first unsupported one are judged on their own (20's ConfigMap).
        for r in recs[: recs.index(bad[0])]:
            assert r.errors == [], f"{r.location}: {[str(e) for e in r.errors]}"
        return
    assert expected.startswith("invalid ")
    got = [e for r in recs for e in r.errors]
    for path, reason in expected_errors(expected):
        at_path = [e.message for e in got if e.path == path]
        assert any(reason_matches(reason, m) for m in at_path), (
            f"{name}: expected {path}: {reason}; got at that path: {at_path}; all: {[str(e) for e in got]}"
        )
