"""What every command shares: the group, its error handling, the settings read at the edge, and
the options several commands take."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from qa.errors import QAError
from qa.settings import Settings
from qa.text import is_date, printable


def _echo(text: str = "", err: bool = False) -> None:
    """Print text that may come from the archive or the user: control characters (terminal
    escape sequences) and bidi overrides are shown escaped, never sent to the terminal."""
    click.echo(printable(text), err=err)


def _fail(exc: Exception) -> None:
    _echo(f"error: {exc}", err=True)
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



def answerer_option(f):
    """--answerer and --reader-runtime, which every command that answers takes."""
    f = click.option("--reader-runtime", type=click.Choice(["auto", "onnx", "torch"]),
                     help="What the trained reader runs on (QA_READER_RUNTIME) [auto: onnx "
                          "when installed, else torch].")(f)
    return click.option(
        "--answerer",
        help="auto [default: the trained reader with the rules as a second opinion when it "
             "can run, else the rules], reader, rules, a train-reader folder, a Hugging Face "
             "extractive-QA model name/folder, or two joined by + (QA_ANSWERER).")(f)


follow_links_option = click.option(
    "--follow-links", is_flag=True,
    help="Also read symbolic links that lead out of the folders given (QA_FOLLOW_LINKS).")


@click.group(cls=_Group)
@click.version_option(package_name="archive-qa")
def main() -> None:
    """Extractive question answering over a Chinese newspaper archive."""


def _settings(**overrides) -> Settings:
    """The one place settings are read: QA_* environment variables, then the flags given."""
    try:
        return Settings.from_env(**overrides)
    except ValueError as exc:  # a QA_* variable that is not a number
        raise click.UsageError(str(exc)) from exc


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A date option's value, checked: a day that exists, written YYYY-MM-DD."""
    if value is not None and not is_date(value := value.strip()):
        raise click.BadParameter(f"{value!r} is not a date written YYYY-MM-DD", ctx, param)
    return value


asked_on_option = click.option(
    "--asked-on", callback=_date,
    help="The day of asking, YYYY-MM-DD: what 今年, 去年 and 上个月 in a question mean "
         "(QA_ASKED_ON) [today].")


def _filter_options(f):
    for option in (
        click.option("--newspaper", help="Only this newspaper."),
        click.option("--date-to", callback=_date, help="Latest date, YYYY-MM-DD."),
        click.option("--date-from", callback=_date, help="Earliest date, YYYY-MM-DD."),
        click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder."),
    ):
        f = option(f)
    return f


def _filters(date_from: str | None, date_to: str | None, newspaper: str | None, store):
    """The filters, checked against each other and the archive (usage errors, exit 2)."""
    from qa.index.search import Filters

    if date_from and date_to and date_from > date_to:
        raise click.BadParameter(f"--date-from {date_from} is after --date-to {date_to}",
                                 param_hint="'--date-from' / '--date-to'")
    if newspaper is not None and newspaper not in (known := store.newspaper_names()):
        raise click.BadParameter(f"{newspaper!r} is not a newspaper of this archive; it has: "
                                 f"{', '.join(known) or 'none named'}", param_hint="'--newspaper'")
    return Filters(date_from, date_to, newspaper)


def _index_needed(settings: Settings, given: Path | None) -> None:
    """One line saying which folder holds no index and why that one (never another archive)."""
    from qa.index.store import current_version, missing_index

    if current_version(settings.index_dir) is None:
        why = ("--index-dir" if given else "QA_INDEX_DIR" if os.environ.get("QA_INDEX_DIR")
               else "the default; give --index-dir or set QA_INDEX_DIR for another")
        raise QAError(f"{missing_index(settings.index_dir)} (the index folder: {why})")


