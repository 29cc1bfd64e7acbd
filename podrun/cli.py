"""podrun's command line: a thin click client (kubectl habits, see docs/cli.md)."""

from __future__ import annotations

import sys

import click

from podrun import KUBE_VERSION, __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Run Kubernetes v1 Pod manifests on one Linux host, without a cluster."""


@cli.command()
def version() -> None:
    """Print podrun's version and the Kubernetes API version it follows."""
    click.echo(f"podrun {__version__} (Kubernetes v{KUBE_VERSION} Pod API)")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
