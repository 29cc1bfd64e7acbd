"""podrun's command line: a thin click client (kubectl habits; see README)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from podrun import KUBE_VERSION, __version__

# kubectl reads these extensions when -f names a directory.
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Run Kubernetes v1 Pod manifests on one Linux host, without a cluster."""


@cli.command()
def version() -> None:
    """Print podrun's version and the Kubernetes API version it follows."""
    click.echo(f"podrun {__version__} (Kubernetes v{KUBE_VERSION} Pod API)")


def read_manifest_sources(filenames: tuple[str, ...]) -> list[tuple[str, str]]:
    """(source name, text) for each -f argument: a file, a directory (its .yaml/.yml/.json
    files, sorted, not recursive, dot-files skipped, as kubectl) or "-" for stdin."""
    from podrun.spec.parse import decode_manifest_bytes

    sources: list[tuple[str, str]] = []
    for name in filenames:
        if name == "-":
            sources.append(("-", decode_manifest_bytes(sys.stdin.buffer.read(), "-")))
            continue
        path = Path(name)
        if path.is_dir():
            files = sorted(p for p in path.iterdir()
                           if p.is_file() and not p.name.startswith(".")
                           and p.suffix in MANIFEST_EXTENSIONS)
            if not files:
                raise click.UsageError(f'no manifest files (.yaml, .yml, .json) in directory "{name}"')
        elif path.exists():
            files = [path]
        else:
            raise click.UsageError(f'the path "{name}" does not exist')
        for f in files:
            sources.append((str(f), decode_manifest_bytes(f.read_bytes(), str(f))))
    return sources


def _doc_label(source: str, index: int, count: int) -> str:
    return f"{source}#{index + 1}" if count > 1 else source


@cli.command()
@click.option("-f", "--filename", "filenames", multiple=True, required=True,
              help="Manifest file, directory of manifests, or - for stdin.")
@click.option("--validate", "mode", default="strict", show_default=True,
              type=click.Choice(["strict", "warn", "ignore", "true", "false"]),
              help="Unknown fields: error (strict), warning (warn) or dropped (ignore).")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]),
              help="Print the objects after the API server's defaults.")
def validate(filenames: tuple[str, ...], mode: str, output: str | None) -> None:
    """Check manifests as the API server's create validation does (every error at once)."""
    from podrun.errors import PodrunError
    from podrun.spec.encode import to_dict
    from podrun.spec.parse import load_text

    field_validation = {"strict": "Strict", "true": "Strict", "warn": "Warn",
                        "ignore": "Ignore", "false": "Ignore"}[mode]
    try:
        sources = read_manifest_sources(filenames)
    except PodrunError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    failed = False
    objects: list[dict[str, Any]] = []
    for source, text in sources:
        loaded = load_text(text, source, field_validation=field_validation)
        for doc in loaded:
            label = _doc_label(source, doc.index, len(loaded))
            for w in doc.warnings:
                click.echo(f"Warning: {label}: {w}", err=True)
            for e in doc.errors:
                click.echo(f"{label}: {e}", err=True)
            if doc.errors:
                failed = True
            elif doc.obj is not None:
                objects.append(to_dict(doc.obj))
                if output is None:
                    name = getattr(getattr(doc.obj, "metadata", None), "name", None) or ""
                    click.echo(f"{label}: {doc.kind.lower()}/{name} valid")
    if output == "json":
        out: Any = objects[0] if len(objects) == 1 else {
            "apiVersion": "v1", "kind": "List", "items": objects, "metadata": {}}
        click.echo(json.dumps(out, indent=2, sort_keys=False))
    elif output == "yaml":
        import yaml
        click.echo(yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False), nl=False)
    sys.exit(1 if failed else 0)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
