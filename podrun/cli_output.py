"""kubectl get's template outputs and table options: `-o jsonpath=`, `-o jsonpath-file=`,
`-o jsonpath-as-json=`, `-o custom-columns=`, `-o custom-columns-file=`, `--sort-by`,
`--show-labels`, `-L/--label-columns`, `--no-headers`. Pure functions over v1 objects (dicts);
cli_core.get does the I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podrun.errors import PodrunError
from podrun.jsonpath import JSONPathError, Template, compile_template, go_value, relaxed

TEMPLATE_OUTPUTS = ("jsonpath", "jsonpath-file", "jsonpath-as-json", "custom-columns",
                    "custom-columns-file")
PLAIN_OUTPUTS = ("wide", "json", "yaml", "name")


class OutputError(PodrunError):
    """A bad -o value or template, in kubectl's words (exit 1, `error: ...`)."""


def check_output(output: str | None) -> None:
    """Reject an -o kubectl does not know, before any request."""
    if output is None or output in PLAIN_OUTPUTS:
        return
    kind, sep, arg = output.partition("=")
    if kind in TEMPLATE_OUTPUTS:
        if not sep or not arg:
            raise OutputError(f"{kind} template format specified but no template given")
        return
    allowed = ", ".join(sorted((*PLAIN_OUTPUTS, *TEMPLATE_OUTPUTS)))
    raise OutputError(f'unable to match a printer suitable for the output format "{output}", '
                      f"allowed formats are: {allowed}")


def is_template(output: str | None) -> bool:
    return output is not None and output.partition("=")[0] in TEMPLATE_OUTPUTS


def _template_text(kind: str, arg: str) -> str:
    if kind.endswith("-file"):
        try:
            return Path(arg).read_text()
        except OSError as e:
            raise OutputError(f"error reading template {arg}: {e.strerror or e}") from None
    return arg


def render(output: str, data: Any, *, header: bool = True) -> str:
    """The text `kubectl get -o <output>` prints for data (one object, or a v1 List)."""
    kind, _, arg = output.partition("=")
    text = _template_text(kind, arg)
    if kind.startswith("custom-columns"):
        items = data.get("items", []) if data.get("kind") == "List" else [data]
        return custom_columns(text, items, header=header)
    try:
        tmpl = compile_template(text)
    except JSONPathError as e:
        raise OutputError(f"error parsing jsonpath {text}, {e}") from None
    try:
        return tmpl.render_json(data) if kind == "jsonpath-as-json" else tmpl.render(data)
    except JSONPathError as e:
        raise OutputError(f'error executing jsonpath "{text}": Error executing template: '
                          f"{e}. Printing more information for debugging the template:\n"
                          f"\ttemplate was:\n\t\t{text}\n") from None


def custom_columns(spec: str, items: list[dict[str, Any]], *, header: bool = True) -> str:
    """kubectl's custom-columns printer: HEADER:jsonpath pairs, comma separated (a file
    holds headers on its first line and paths on its second)."""
    spec = spec.strip()
    if "\n" in spec:  # custom-columns-file
        lines = [ln.split() for ln in spec.splitlines() if ln.strip()]
        if len(lines) != 2 or len(lines[0]) != len(lines[1]):
            raise OutputError("expected two lines of the same number of columns in the "
                              "custom-columns file")
        pairs = list(zip(lines[0], lines[1], strict=True))
    else:
        pairs = []
        for part in spec.split(","):
            head, sep, expr = part.partition(":")
            if not sep or not head:
                raise OutputError(f"unexpected custom-columns spec: {part}, expected "
                                  "<header>:<json-path-expr>")
            pairs.append((head, expr))
    templates: list[Template] = []
    for _, expr in pairs:
        try:
            templates.append(compile_template(relaxed(expr)))
        except JSONPathError as e:
            raise OutputError(f"error parsing jsonpath {expr}, {e}") from None
    rows = []
    for obj in items:
        row = []
        for t in templates:
            found = _found(t, obj)
            row.append(",".join(go_value(v) for v in found) if found else "<none>")
        rows.append(row)
    from podrun.cli_core import format_table
    return format_table([h for h, _ in pairs], rows, header=header)


def _found(tmpl: Template, obj: dict[str, Any]) -> list[Any]:
    """A column's or sort key's values; one that cannot be evaluated is empty."""
    try:
        return tmpl.values(obj)
    except JSONPathError:
        return []


def sort_objects(objs: list[dict[str, Any]], expr: str) -> list[dict[str, Any]]:
    """--sort-by: numbers by value, everything else by text; objects without the field
    first, as kubectl's sorter puts them."""
    try:
        tmpl = compile_template(relaxed(expr))
    except JSONPathError as e:
        raise OutputError(f"error parsing jsonpath {expr}, {e}") from None

    def key(obj: dict[str, Any]) -> tuple[int, float, str]:
        found = _found(tmpl, obj)
        if not found:
            return (0, 0.0, "")
        v = found[0]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (1, float(v), "")
        return (2, 0.0, go_value(v))
    return sorted(objs, key=key)


def labels_text(labels: dict[str, str] | None) -> str:
    """The LABELS column of --show-labels: k=v sorted by key, comma separated."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def label_headers(keys: list[str]) -> list[str]:
    """-L a/b,c: columns named B and C (the last path part, upper-case)."""
    return [k.rsplit("/", 1)[-1].upper() for k in keys]


def label_keys(values: tuple[str, ...] | list[str]) -> list[str]:
    return [k.strip() for v in values for k in v.split(",") if k.strip()]


def extend_rows(cols: list[str], rows: list[list[str]], metas: list[dict[str, Any]],
                label_columns: list[str], show_labels: bool) -> tuple[list[str], list[list[str]]]:
    """Add -L columns, then LABELS, as kubectl appends them after the resource's own."""
    cols = [*cols, *label_headers(label_columns)] + (["LABELS"] if show_labels else [])
    out = []
    for row, meta in zip(rows, metas, strict=True):
        labels = meta.get("labels") or {}
        extra = [str(labels.get(k, "")) for k in label_columns]
        if show_labels:
            extra.append(labels_text(labels))
        out.append([*row, *extra])
    return cols, out
