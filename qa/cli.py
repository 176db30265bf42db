"""Command line: a thin layer over the library. `python -m qa --help`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qa.errors import QAError
from qa.settings import Settings


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


class _Group(click.Group):
    """Turns the library's own exceptions into one-line messages instead of tracebacks."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except QAError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="archive-qa")
def main() -> None:
    """Extractive question answering over a Chinese newspaper archive."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article.")
def ingest(paths: tuple[Path, ...], as_json: bool) -> None:
    """Read pages and print the articles and paragraphs found (nothing is indexed)."""
    from qa.ingest import article_json, format_report, ingest_paths

    for result in ingest_paths(paths):
        if as_json:
            for article in result.articles:
                click.echo(json.dumps(article_json(article), ensure_ascii=False))
            for warning in result.warnings:
                click.echo(f"warning: {result.source}: {warning}", err=True)
        else:
            click.echo(format_report(result))
