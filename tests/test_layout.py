"""The package's shape: a package per stage, the question side never reaching the build side, no
import circles, modules short enough to read in one sitting.

The import graph is read from the source (every import, lazy and TYPE_CHECKING ones included),
so a rule holds for every path through the code, not only for the ones a test happens to run.
"""

from __future__ import annotations

import ast
import shutil
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qa"
MAX_LINES = 500
MAX_FLAT = 12  # modules directly under qa/

# The question side: what answers a question. It may use the index's store and search, the
# model, the readers and the answer stage, but never reach ingest, training or the index build.
QUESTION_SIDE = ("qa.index.search", "qa.index.store", "qa.index.schema", "qa.index.bm25",
                 "qa.index.vectors", "qa.index.lexical", "qa.reader", "qa.answer", "qa.web")
BUILD_SIDE = ("qa.ingest", "qa.train", "qa.index.build", "qa.index.distributed")
# The web app's two ways onto the build side: adding pages (the upload job) and showing a
# printed page (the page view reads the PDF or scan). Paths through them are allowed.
GATEWAYS = frozenset({"qa.web.upload", "qa.web.page"})


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports anywhere in its body."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from qa import x` imports the module qa.x when there is one
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def external_imports(folder: Path) -> dict[str, set[str]]:
    """File -> the top-level packages it imports (for tests/ and benchmarks/)."""
    out = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        out[path.name] = names
    return out


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def crossings(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import path from a question-side module onto the build side (not through a
    gateway), shortest first per start."""
    found = []
    for start in sorted(m for m in graph if within(m, QUESTION_SIDE) and m not in GATEWAYS):
        seen, queue = {start}, deque([[start]])
        while queue:
            path = queue.popleft()
            for nxt in sorted(graph[path[-1]]):
                if nxt in seen or nxt in GATEWAYS:
                    continue
                seen.add(nxt)
                if within(nxt, BUILD_SIDE):
                    found.append(path + [nxt])
                else:
                    queue.append(path + [nxt])
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each as the list of modules around it."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_the_package():
    graph = imports()
    assert "qa.reader.rules" in graph and "qa.reader.base" in graph["qa.reader.rules"]
    assert cycles(graph) == []


def test_the_question_side_never_reaches_the_build_side():
    graph = imports()
    assert {"qa.answer.pipeline", "qa.index.search", "qa.web.app"} <= set(graph)
    assert crossings(graph) == []


def test_a_planted_crossing_is_found(tmp_path):
    """The rule is not vacuous: one import planted deep in the readers, or in the app's
    handlers, is reported with the path it opens."""
    copy = tmp_path / "qa"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("data", "__pycache__"))
    rules = copy / "reader" / "rules.py"
    rules.write_text(rules.read_text("utf-8") + "\n\ndef _planted():\n"
                     "    from qa.ingest.segment import segment  # noqa: F401\n", "utf-8")
    found = crossings(imports(copy))
    assert ["qa.reader.rules", "qa.ingest.segment"] in found
    # and so does every module that reaches the rules: the pipeline through the readers
    assert any(p[0] == "qa.answer.pipeline" and p[-2:] == ["qa.reader.rules", "qa.ingest.segment"]
               for p in found)

    shutil.rmtree(copy)
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("data", "__pycache__"))
    render = copy / "web" / "render.py"
    render.write_text(render.read_text("utf-8") + "\nimport qa.index.build  # noqa: E402,F401\n",
                      "utf-8")
    assert ["qa.web.render", "qa.index.build"] in crossings(imports(copy))


def test_a_gateway_is_the_only_way_through():
    graph = {"qa.web.app": {"qa.web.upload", "qa.web.render"}, "qa.web.upload": {"qa.index.build"},
             "qa.web.render": set(), "qa.index.build": set()}
    assert crossings(graph) == []
    graph["qa.web.render"] = {"qa.index.build"}
    assert crossings(graph) == [["qa.web.app", "qa.web.render", "qa.index.build"],
                                ["qa.web.render", "qa.index.build"]]


def test_a_package_per_stage_and_few_modules_flat():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= MAX_FLAT, flat
    for stage in ("ingest", "index", "model", "reader", "answer", "eval", "train", "web", "cli"):
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_test_code_stays_out_of_the_library():
    graph = imports()
    users = {m for m, deps in graph.items() if any(within(d, ("qa.testing",)) for d in deps)}
    assert all(within(m, ("qa.testing",)) for m in users), users
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(within(n, ("tests", "benchmarks")) for n in names), path


def test_tests_and_benchmarks_share_fixtures_through_qa_testing_only():
    for name, names in external_imports(ROOT / "tests").items():
        assert not any(within(n, ("benchmarks",)) for n in names), name
    for name, names in external_imports(ROOT / "benchmarks").items():
        assert not any(within(n, ("tests",)) for n in names), name


def test_modules_are_short_enough_to_read():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}
