"""The commands over an archive: ingest, index, search, ask, serve."""

from __future__ import annotations

import os
from pathlib import Path

import click

from qa.cli.common import (
    _echo,
    _filter_options,
    _filters,
    _index_needed,
    _settings,
    answerer_option,
    asked_on_option,
    follow_links_option,
    main,
)
from qa.errors import QAError
from qa.files import display_name
from qa.text import check_question, json_text


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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder [index/].")
@click.option("--model", help="Embedding model: default, a sentence-transformers name or folder.")
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and embed everything.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--engine", type=click.Choice(["plain", "ray"]), default="plain", show_default=True,
              help="Where files are read and embedded: here, or on a Ray cluster (the ray extra).")
@click.option("--ray-address", metavar="ADDR",
              help="The Ray cluster (host:port, or 'auto'); default: RAY_ADDRESS, else a local one.")
@click.option("--ray-actors", type=int, help="Embedding actors [the cluster's CPUs less one].")
@click.option("--ray-gpus", type=float, default=0, help="GPUs per embedding actor [0].")
@follow_links_option
def index(paths, index_dir, model, rebuild, quiet, engine, ray_address, ray_actors, ray_gpus,
          follow_links) -> None:
    """Add new or changed files to the index (default: the corpus folder); drop deleted ones."""
    from functools import partial

    from qa.index.build import build_index
    from qa.model.embed import load_embedder

    settings = _settings(index_dir=index_dir, model=model, follow_links=follow_links or None)
    paths = paths or (settings.corpus_dir,)
    missing = [display_name(p) for p in paths if not os.path.lexists(p)]
    if missing:
        raise click.UsageError(f"no such file or folder: {', '.join(missing)}")
    embedder = load_embedder(settings, "index", log=lambda msg: _echo(msg, err=True),
                             deferred=True)  # nothing is loaded for an unchanged archive
    prepare = None
    if engine == "ray":
        from qa.index.distributed import prepare as on_ray

        prepare = partial(on_ray, settings=settings, identity=embedder.identity(),
                          address=ray_address, actors=ray_actors, gpus=ray_gpus,
                          log=lambda msg: _echo(msg, err=True))
    report = build_index(
        paths, settings.index_dir, embedder, settings=settings, rebuild=rebuild,
        batch_size=settings.batch_size, progress=not quiet,
        log=lambda msg: _echo(msg, err=True), prepare=prepare,
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


@main.command()
@click.argument("query")
@click.option("-k", default=10, show_default=True, help="Number of paragraphs.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@asked_on_option
@_filter_options
def search(query, k, as_json, asked_on, index_dir, date_from, date_to, newspaper) -> None:
    """Show the paragraphs closest to QUERY (hybrid dense + BM25 retrieval); a time it names
    (2023年, 今年一季度, 截至去年底) keeps the reports that can be about it, as `qa ask` does."""
    from qa.answer.cite import citation, location
    from qa.answer.when import asked_day, narrowed
    from qa.index.search import Retriever
    from qa.index.store import Store
    from qa.model.embed import load_embedder

    settings = _settings(index_dir=index_dir, asked_on=asked_on)
    query = check_question(query, settings.max_question_chars)
    _index_needed(settings, index_dir)
    store = Store.open(settings.index_dir)
    mask = _filters(date_from, date_to, newspaper, store).mask(store)
    day = asked_day(settings.asked_on)
    asked, mask = narrowed(query, day, store.dates, mask)
    retriever = Retriever(store, load_embedder(settings, "query"))
    hits = retriever.search_within(query, k, mask)
    if as_json:
        click.echo(json_text([hit_json(h) for h in hits], indent=2))
        return
    if asked:
        first, last = asked.reports(day)
        _echo(f"问的时间 (time asked): {asked.label}: reports {first or '…'} – {last}")
    if not hits:
        _echo("no matching paragraphs")
    for rank, h in enumerate(hits, 1):
        a, p = h.article, h.paragraph
        _echo(f"{rank:>2}. [{h.score:.4f}] {a.newspaper or ''} {a.date or ''} "
              f"〈{a.title or ''}〉  {location(citation(rank, h))}")
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
        "resolved_date": answer.resolved_date, "reason": answer.reason,
        "abstained": answer.abstained, "citations": [asdict(c) for c in answer.citations],
        "answerer": {"name": archive.answerer.name, "threshold": archive.threshold},
        "confidence": {"probability": None if probability is None else round(probability, 4),
                       "level": answer.level, "agreeing": answer.agreeing},
        "timeline": [asdict(d) for d in answer.timeline],
        "searched": asdict(answer.searched) if answer.searched else None,
    }


@main.command()
@click.argument("question", required=False)
@click.option("-k", type=int, help="Passages to read [5].")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--questions", type=click.File("r", encoding="utf-8"),
              help="Ask every line of this file (- for standard input: a question, or a JSON "
                   "object with `question` and optionally `id` and `asked_on`) with one start; "
                   "JSON lines out.")
@asked_on_option
@answerer_option
@_filter_options
def ask(question, k, as_json, questions, asked_on, answerer, reader_runtime, index_dir, date_from,
        date_to, newspaper) -> None:
    """Answer QUESTION with exact words from the archive and cite them."""
    from qa.answer.cite import format_citation, location
    from qa.answer.pipeline import Archive

    if (question is None) == (questions is None):
        raise click.UsageError("give a QUESTION or --questions FILE (one of them)")
    settings = _settings(index_dir=index_dir, answerer=answerer, reader_runtime=reader_runtime,
                         asked_on=asked_on)
    if question is not None:
        check_question(question, settings.max_question_chars)  # before anything is loaded
    _index_needed(settings, index_dir)
    archive = Archive.open(settings, log=lambda msg: click.echo(msg, err=True))
    filters = _filters(date_from, date_to, newspaper, archive.store)
    if questions is not None:
        for line in questions:
            if line.strip():
                click.echo(json_text(_asked(line, archive, k, filters)))
        return
    answer = archive.ask(question, k=k, filters=filters)
    if as_json:
        click.echo(json_text(answer_json(answer, archive), indent=2))
        return
    for line in answer_lines(answer):
        _echo(line)
    for c in answer.citations:
        _echo(f"[{c.rank}] {format_citation(c)}  {location(c)}"
              + ("" if answer.abstained or c.role == "answer" else f"  ({ROLE_LABELS[c.role]})"))


def _asked(line: str, archive, k, filters) -> dict:
    """One line of --questions answered: the answer's JSON, or the error for that line alone."""
    import json
    from datetime import date

    try:
        row = json.loads(line) if line.lstrip().startswith("{") else {"question": line.strip()}
        day = date.fromisoformat(row["asked_on"]) if row.get("asked_on") else None
        out = answer_json(archive.ask(str(row["question"]), k=k, filters=filters, asked_on=day),
                          archive)
    except (ValueError, KeyError, TypeError) as exc:
        return {"error": f"not a question line: {exc}"}
    except QAError as exc:
        return {"id": row.get("id"), "error": str(exc)}
    return {"id": row.get("id"), **out} if row.get("id") is not None else out


ROLE_LABELS = {"agrees": "同样的答案 same answer", "timeline": "另一日期 another date",
               "conflict": "同一天的不同答案 same day, another answer",
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
    meant = f"（即 {answer.resolved_date}）" if answer.resolved_date else ""
    if answer.level == "low" and not answer.timeline:
        lines = [f"可能是 (possibly) {answer.text}{meant}    ({level}: check the source)"]
    elif not answer.timeline:
        lines = [f"{answer.text}{meant}    ({level})"]
    c = answer.citations[0]
    lines.append(f"  {c.passage[:c.answer_start]}【{c.passage[c.answer_start:c.answer_end]}】"
                 f"{c.passage[c.answer_end:]}")
    if answer.agreeing >= 2:
        lines.append(f"  {answer.agreeing} 篇报道一致 ({answer.agreeing} reports agree)")
    if answer.reason:
        lines.append(f"  注意 (note): {answer.reason}")
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
@asked_on_option
@answerer_option
def serve(host, port, index_dir, corpus, auth, insecure_no_auth, allowed_hosts, trusted_proxies,
          asked_on, answerer, reader_runtime) -> None:
    """Chat with the archive in a browser (what `python app.py` runs)."""
    import logging

    from qa.serve import parse_auth
    from qa.serve import serve as serve_

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings(host=host, port=port, index_dir=index_dir, corpus_dir=corpus,
                         answerer=answerer, reader_runtime=reader_runtime,
                         allowed_hosts=",".join(allowed_hosts) or None,
                         trusted_proxy=",".join(trusted_proxies) or None, asked_on=asked_on)
    serve_(settings, parse_auth(auth), log=lambda msg: _echo(msg, err=True),
           insecure_no_auth=insecure_no_auth)


