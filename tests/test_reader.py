"""The bundled span reader: the shipped adapter answers, training runs and resumes, windows."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from qa.datasets import Example  # noqa: E402
from qa.errors import ModelError  # noqa: E402
from qa.model.export import cached_export  # noqa: E402
from qa.reader import load_answerer  # noqa: E402
from qa.reader.bundle import READER_DIR  # noqa: E402
from qa.reader.e5 import E5Reader, reader_available  # noqa: E402
from qa.reader.ensemble import Ensemble  # noqa: E402
from qa.reader.rules import RuleAnswerer  # noqa: E402
from qa.reader.torch_reader import load_encoder  # noqa: E402
from qa.reader.windows import Windower  # noqa: E402
from qa.train.config import TrainConfig  # noqa: E402
from qa.train.features import featurize  # noqa: E402
from qa.train.loop import train  # noqa: E402
from tests.seeds import page  # noqa: E402

pytestmark = pytest.mark.slow  # exports the encoder and trains on PyTorch


def around(text: str, marker: str, before: int = 80, after: int = 120) -> str:
    i = text.index(marker)
    return text[max(0, i - before) : i + after]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """A cache with the encoder exported once for the module (a few seconds)."""
    folder = tmp_path_factory.mktemp("cache")
    cached_export(folder)
    return folder


@pytest.fixture(scope="module")
def shipped(cache_dir) -> E5Reader:
    if not reader_available():
        pytest.fail(f"the trained reader is missing from {READER_DIR}")
    return E5Reader(cache_dir=cache_dir, runtime="torch", precision="fp32")


def check(spans, passages) -> None:
    for s in spans:
        assert passages[s.passage_index][s.start : s.end] == s.text
        assert 0.0 <= s.score <= 1.0
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_shipped_reader_answers_a_seed_question(shipped):
    passages = [around(page("002"), "王凤英的丈夫赵林柱"), around(page("004"), "新建5G基站")]
    spans = shipped.extract("王凤英的丈夫叫什么名字？", passages, [0.9, 0.5])
    check(spans, passages)
    assert spans[0].text == "赵林柱" and spans[0].passage_index == 0
    assert spans[0].score >= shipped.threshold


def test_load_answerer_names(cache_dir):
    assert isinstance(load_answerer("rules", cache_dir), RuleAnswerer)
    reader = load_answerer("reader", cache_dir, runtime="torch")  # it ships, with its threshold
    assert isinstance(reader, E5Reader) and reader.runtime.startswith("torch")
    default = load_answerer("auto", cache_dir, runtime="torch")  # the rules as second opinion
    assert isinstance(default, Ensemble) and isinstance(default.first, E5Reader)
    assert isinstance(default.second, RuleAnswerer) and default.threshold == 0.5
    runtime = json.loads((READER_DIR / "reader.json").read_text())["runtime"]
    assert reader.threshold == runtime["abstain_threshold"]
    with pytest.raises(ModelError, match="train-reader"):
        E5Reader(folder=Path("/nonexistent/reader"), cache_dir=cache_dir)


def test_windows_map_back_to_characters(shipped):
    """A passage several windows long: every token's offsets point at its own characters."""
    passage = page("004")[:900]
    tokenizer = shipped.windower.tokenizer
    windows = Windower(tokenizer, 64, 16).batch("新建了多少个5G基站？", [passage])
    assert len(windows.input_ids) > 5  # many windows
    covered = set()
    for f, (lo, hi) in enumerate(windows.context):
        for i in range(lo, hi + 1):
            token = tokenizer.id_to_token(int(windows.input_ids[f, i]))
            a, b = windows.offsets[f][i]
            assert passage[a:b].strip() == token.lstrip("▁").strip() or token == "▁"
            covered.update(range(a, b))
    assert covered >= {i for i, ch in enumerate(passage) if not ch.isspace()}
    runtime = json.loads((READER_DIR / "reader.json").read_text())["runtime"]
    assert shipped.windower.max_length == runtime["max_length"]  # its own windower untouched
    spans = shipped.extract("新建了多少个5G基站？", [passage])
    check(spans, [passage])


def test_features_label_the_answer_tokens_in_the_right_window(shipped):
    context = "无关的句子。" * 40 + "通辽市今年新建5G基站1207个。" + "其他内容。" * 10
    start = context.index("1207个")
    example = Example("今年通辽新增了几个5G基站？", context, start, "1207个")
    tokenizer = shipped.windower.tokenizer
    features = featurize(tokenizer, [example], max_length=64, stride=16)
    assert len(features.starts) > 3
    positives = [(ids, s, e) for ids, s, e, _ in zip(*features, strict=True) if s > 0]
    assert positives and len(positives) < len(features.starts)
    for ids, s, e in positives:
        assert tokenizer.decode(ids[s : e + 1]).replace(" ", "") == "1207个"


def test_char_tokenization_lets_a_span_start_after_a_particle(cache_dir):
    """SentencePiece glues 的 to the next word (的大, 的形式) and % to a number; "chars" does not,
    so the answer's own first and last characters are token edges."""
    context = "他是日本漫画中的大空翼。压减比例达到8.90%的形式语言。"
    tokenizer = load_encoder(cache_dir, "chars")[0].backend_tokenizer
    for answer in ("大空翼", "8.90", "形式语言"):
        start = context.index(answer)
        example = Example("问题是什么？", context, start, answer)
        features = featurize(tokenizer, [example], max_length=64, stride=16)
        s, e = features.starts[0], features.ends[0]
        assert tokenizer.decode(features.input_ids[0][s : e + 1]).replace(" ", "") == answer


def _squad(path: Path, questions: list[tuple[str, str, str | None]]) -> Path:
    paragraphs = [{"context": c, "qas": [
        {"id": str(i), "question": q,
         "answers": [] if a is None else [{"text": a, "answer_start": -1}],
         "is_impossible": a is None}]} for i, (q, c, a) in enumerate(questions)]
    path.write_text(json.dumps({"data": [{"paragraphs": paragraphs}]}, ensure_ascii=False))
    return path


def test_train_reader_smoke_and_resume(tmp_path, cache_dir):
    text = page("002")
    data = _squad(tmp_path / "train.json", [
        ("王凤英的丈夫是谁？", around(text, "王凤英的丈夫赵林柱", 40, 60), "赵林柱"),
        ("通辽市新建了多少个5G基站？", around(page("004"), "新建5G基站", 40, 60), "1207个"),
        ("火星上有几个湖？", around(text, "王凤英的丈夫赵林柱", 40, 60), None),
    ])
    cfg = TrainConfig(data=[data], out=tmp_path / "run", eval_file=data, cache_dir=cache_dir,
                      steps=2, max_length=48, stride=16, batch_size=2, checkpoint_every=1,
                      rank=2, bf16=False)
    logged: list[str] = []
    state = train(cfg, cache_dir, log=logged.append)
    assert state["step"] == 2 and len(state["history"]) == 2
    assert any("validation EM" in line for line in logged)
    best = tmp_path / "run" / "best"
    assert reader_available(best)
    config = json.loads((best / "reader.json").read_text())
    assert config["runtime"]["max_length"] == 48 and (best / "MODEL_CARD.md").is_file()
    with pytest.raises(ModelError, match="--resume"):
        train(cfg, cache_dir, log=logged.append)

    cfg.resume, cfg.steps = True, 3
    state = train(cfg, cache_dir, log=logged.append)
    assert state["step"] == 3 and any("resumed from" in line for line in logged)
    reader = E5Reader(best, cache_dir=cache_dir)
    spans = reader.extract("王凤英的丈夫是谁？", [around(text, "王凤英的丈夫赵林柱", 40, 60)])
    check(spans, [around(text, "王凤英的丈夫赵林柱", 40, 60)])

    # a run continued from that reader records where it started (its best step), for its card
    shipped = json.loads((best / "reader.json").read_text())["training"]["step"]
    assert shipped == state["best"]["step"]
    more = replace(cfg, out=tmp_path / "more", steps=1, resume=False, init_from=best)
    train(more, cache_dir, log=logged.append)
    continued = json.loads((tmp_path / "more" / "best" / "reader.json").read_text())
    assert continued["parent"]["training"]["step"] == shipped
    assert "## Continued from" in (tmp_path / "more" / "best" / "MODEL_CARD.md").read_text()
    # shipped over the reader it started from, then resumed: its parent is still that reader
    shutil.copytree(tmp_path / "more" / "best", best, dirs_exist_ok=True)
    state = train(replace(more, steps=2, resume=True), cache_dir, log=logged.append)
    assert state["step"] == 2 and state["parent"]["training"]["step"] == shipped


def test_top_layers_trained_in_full_ship_as_changes_every_runtime_reads(tmp_path, cache_dir, shipped):
    """--full-layers 1 from the shipped reader (LoRA on every layer): the top layer starts where
    the shipped LoRA left it, is saved as its change from the base (int8 rows), and the ONNX
    graph and PyTorch read the same logits; a run with LoRA alone cannot continue it."""
    from safetensors.numpy import load_file

    from qa.reader.adapter import ADAPTER, LAYERS, SCALE

    passage = around(page("002"), "王凤英的丈夫赵林柱", 40, 60)
    data = _squad(tmp_path / "train.json", [("王凤英的丈夫是谁？", passage, "赵林柱")] * 2)
    # a learning rate of ~0: the run's reader must compute what the shipped one does
    cfg = TrainConfig(data=[data], out=tmp_path / "full", cache_dir=cache_dir, steps=1,
                      max_length=48, stride=16, batch_size=2, checkpoint_every=1, rank=32,
                      alpha=64, bf16=False, full_layers=1, lr=1e-12, full_lr=1e-12,
                      init_from=READER_DIR)
    train(cfg, cache_dir, log=lambda _: None)
    best = tmp_path / "full" / "best"
    layers = load_file(str(best / LAYERS))
    names = [k for k in layers if not k.endswith(SCALE)]
    assert names and all(k.startswith("encoder.layer.11.") for k in names)
    assert layers["encoder.layer.11.attention.self.query.weight"].dtype == "int8"
    assert not any(".layer.11." in k for k in load_file(str(best / ADAPTER)))

    onnx = E5Reader(best, cache_dir=cache_dir, runtime="onnx", precision="fp32")
    torch_reader = E5Reader(best, cache_dir=cache_dir, runtime="torch", precision="fp32")
    windows = onnx.windower.batch("王凤英的丈夫是谁？", [passage, passage[::2]])
    mask = windows.attention_mask.astype(bool)
    (s1, e1), (s2, e2), (s0, e0) = (onnx.logits(windows), torch_reader.logits(windows),
                                    shipped.logits(windows))
    assert abs(s1 - s2)[mask].max() < 1e-3 and abs(e1 - e2)[mask].max() < 1e-3
    # the shipped LoRA update of layer 11, now part of its change (int8 rounding aside)
    assert abs(s2 - s0)[mask].max() < 0.05 and abs(e2 - e0)[mask].max() < 0.05
    assert torch_reader.extract("王凤英的丈夫是谁？", [passage])[0].text == "赵林柱"

    state = train(replace(cfg, steps=2, resume=True), cache_dir, log=lambda _: None)
    assert state["step"] == 2
    with pytest.raises(ModelError, match="--full-layers 1"):
        train(replace(cfg, out=tmp_path / "lora", full_layers=0, init_from=best), cache_dir,
              log=lambda _: None)


def test_question_objective_scores_the_answer_against_every_span_of_the_question():
    """The loss of the "question" objective by hand: each window's cross-entropy, plus the
    answer's start (end) against every non-[CLS] start (end) of the question's windows."""
    import math
    from types import SimpleNamespace

    import torch

    from qa.train.features import Features
    from qa.train.loop import Trainer

    ids = [[101, 5, 6, 7, 102], [101, 8, 9, 102], [101, 4, 102]]  # question 0: two windows
    start = [[0.0, 0.5, 2.0, 0.1, 0.3], [1.0, 3.0, 0.2, 0.0], [2.0, 0.1, 0.4]]
    end = [[0.2, 0.1, 0.0, 1.5, 0.0], [0.5, 0.0, 2.5, 0.3], [1.0, 0.2, 0.0]]

    class Fixed(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            def grid(rows):
                out = torch.zeros(input_ids.shape)
                for r, values in enumerate(rows):
                    out[r, : len(values)] = torch.tensor(values)
                return out
            return SimpleNamespace(start_logits=grid(start), end_logits=grid(end))

    features = Features(ids, [2, 0, 0], [3, 0, 0], [0, 0, 1])
    trainer = SimpleNamespace(torch=torch, features=features, model=Fixed(),
                              tokenizer=SimpleNamespace(pad_token_id=0),
                              cfg=SimpleNamespace(device="cpu", max_length=8))
    batch = [[0, 1], [2]]

    def ce(row, target):
        return math.log(sum(math.exp(x) for x in row)) - row[target]

    window = sum(ce(s, t) + ce(e, t_e) for s, e, t, t_e in
                 zip(start, end, [2, 0, 0], [3, 0, 0], strict=True)) / 3 / 2
    trainer.groups = None
    assert Trainer.loss(trainer, batch).item() == pytest.approx(window, abs=1e-5)
    # the answer (start 2, end 3 of window 0) against window 1's spans too, no [CLS]; the
    # unanswerable question 1 adds nothing
    shared = (ce(start[0][1:] + start[1][1:], 1) + ce(end[0][1:] + end[1][1:], 2)) / 2
    trainer.groups = [[0, 1], [2]]
    assert Trainer.loss(trainer, batch).item() == pytest.approx(window + shared, abs=1e-5)


def test_train_reader_with_the_question_objective(tmp_path, cache_dir):
    text = page("002")
    passage = around(text, "王凤英的丈夫赵林柱", 40, 60)
    data = _squad(tmp_path / "train.json", [
        ("王凤英的丈夫是谁？", passage, "赵林柱"),
        ("王凤英的丈夫叫什么名字？", around(text, "王凤英", 200, 0), None),
        ("通辽市新建了多少个5G基站？", around(page("004"), "新建5G基站", 40, 60), "1207个"),
    ])
    cfg = TrainConfig(data=[data], out=tmp_path / "q", cache_dir=cache_dir, steps=2,
                      max_length=48, stride=16, batch_size=4, checkpoint_every=1, rank=2,
                      bf16=False, objective="question", question_windows=3, hard_negatives=1)
    logged: list[str] = []
    state = train(cfg, cache_dir, log=logged.append)
    assert state["step"] == 2 and all(h["loss"] is None or h["loss"] > 0 for h in state["history"])
    assert any(" in 3 questions" in line for line in logged)
    card = (tmp_path / "q" / "best" / "MODEL_CARD.md").read_text()
    assert "--objective question --question-windows 3" in card and "one softmax" in card
    state = train(replace(cfg, steps=3, resume=True), cache_dir, log=logged.append)
    assert state["step"] == 3
    with pytest.raises(ModelError, match="--question-windows at least 1"):
        train(replace(cfg, out=tmp_path / "none", question_windows=0), cache_dir,
              log=logged.append)
