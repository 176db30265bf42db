"""README and docs/ stay true to the tree: links reach files and headings, documented commands,
options, make targets, scripts, tests and module paths exist, and README stays short.

Read from the Markdown and the source alone (click's command table, the Makefile, the
benchmarks' argparse calls): no subprocess, no model.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import unquote

import click
import pytest

from qa.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250

# --- reading Markdown ----------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the text may hold one level of brackets ("a [1] marker")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def split(text: str) -> tuple[list[str], list[str]]:
    """(prose lines, code-block lines) of a Markdown text; fence lines belong to neither."""
    prose, code, fenced = [], [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif fenced:
            code.append(line)
        else:
            prose.append(line)
    return prose, code


def paragraphs(lines: list[str]) -> list[str]:
    """Prose lines joined into paragraphs, as Markdown reads them: a code span or a link may run
    over a line break."""
    text = "\n".join(lines)
    return [" ".join(p.split("\n")) for p in re.split(r"\n\s*\n", text) if p.strip()]


def inline_code(lines: list[str]) -> list[str]:
    return [m.group(2).strip() for p in paragraphs(lines) for m in _INLINE_CODE.finditer(p)]


def code_lines(text: str) -> list[str]:
    """Every line of code: code blocks (continuation lines joined) and inline code spans."""
    prose, code = split(text)
    joined = "\n".join(code).replace("\\\n", " ")
    return [*joined.splitlines(), *inline_code(prose)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link markup and inline code reduced to their text,
    lowercased, punctuation dropped except hyphens and spaces, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings (a repeated heading gets -1, -2, … as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for line in split(text)[0]:
        m = _HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(text: str) -> list[str]:
    """Targets of the Markdown links and images outside code."""
    prose = [_INLINE_CODE.sub("", p) for p in paragraphs(split(text)[0])]
    return [m.group(1) for p in prose for m in _LINK.finditer(p)]


def broken_links(page: Path, text: str | None = None) -> list[str]:
    """The relative links of `page` that lead to no file, or to no heading of a Markdown file."""
    text = page.read_text(encoding="utf-8") if text is None else text
    problems = []
    for target in links(text):
        if not target:
            problems.append("an empty link")
            continue
        if _SCHEME.match(target):  # http:, https:, mailto: are not checked offline
            continue
        path, _, anchor = unquote(target).partition("#")
        dest = (page.parent / path).resolve() if path else page
        if path and not dest.exists():
            problems.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md":
            own = text if dest == page else dest.read_text(encoding="utf-8")
            if anchor not in anchors(own):
                problems.append(f"{target}: no heading #{anchor} in {dest.name}")
    return problems


# --- what the code lines name --------------------------------------------------------------------

_QA = re.compile(r"(?:python3? -m qa|archive-qa|^qa)\s+([a-z][a-z0-9-]*)(.*)")
_MAKE = re.compile(r"(?:^|[\s;&(])make\s+([a-z][\w-]*)")
_SCRIPT = re.compile(r"python3? (benchmarks/[\w./-]+\.py)(.*)")
_PYTEST = re.compile(r"(?:python3? -m pytest|pytest)\b(.*)")
_TEST_ID = re.compile(r"(tests/[\w./-]+\.py)(?:::(\w+))?")
_REPO_PATH = re.compile(r"(?<![\w./~-])((?:qa|tests|benchmarks|docs)/[\w./-]*)")
_END = re.compile(r"\s(?:;|&&|\|\|?|#)|\)$")  # where one shell command ends on a line


def _command(rest: str) -> str:
    m = _END.search(rest)
    return rest[: m.start()] if m else rest


def _flags(rest: str) -> list[str]:
    """The long and short options written after a command ([--json], -k 10, --limit=N)."""
    try:
        words = shlex.split(_command(rest))
    except ValueError:
        words = _command(rest).split()
    out = []
    for word in words:
        word = word.strip("[](),")
        if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", word):
            out.append(word.split("=", 1)[0])
    return out


def _options(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", ()))
        names.update(getattr(param, "secondary_opts", ()))
    return names


def unknown_qa_commands(lines: list[str], commands: dict[str, click.Command]) -> list[str]:
    """`python -m qa SUB --opt` lines whose subcommand or option the CLI does not have."""
    problems = []
    for line in lines:
        for m in _QA.finditer(line):
            name, rest = m.group(1), m.group(2)
            if name not in commands:
                problems.append(f"qa {name}: no such command ({line.strip()})")
                continue
            known = _options(commands[name])
            problems += [f"qa {name} {flag}: no such option" for flag in _flags(rest)
                         if flag not in known]
    return problems


def make_targets(makefile: Path) -> set[str]:
    text = makefile.read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.MULTILINE))


def unknown_make_targets(lines: list[str], targets: set[str]) -> list[str]:
    return [f"make {t}: no such target" for line in lines for t in _MAKE.findall(line)
            if t not in targets]


def missing_scripts_and_tests(lines: list[str], root: Path) -> list[str]:
    """`python benchmarks/X.py --opt` whose script or option is missing; pytest paths and
    `tests/x.py::test_name` ids that do not exist."""
    problems = []
    for line in lines:
        for m in _SCRIPT.finditer(line):
            script = root / m.group(1)
            if not script.is_file():
                problems.append(f"{m.group(1)}: no such script")
                continue
            source = script.read_text(encoding="utf-8")
            problems += [f"{m.group(1)} {flag}: no such option" for flag in _flags(m.group(2))
                         if flag.startswith("--") and flag != "--help"
                         and f'"{flag}"' not in source]
        for m in _PYTEST.finditer(line):
            for word in _command(m.group(1)).split():
                if word.startswith("tests/") and not (root / word.split("::")[0]).exists():
                    problems.append(f"{word}: no such test file")
        for m in _TEST_ID.finditer(line):
            path, name = root / m.group(1), m.group(2)
            if path.is_file() and name and not re.search(
                    rf"^\s*def {name}\(", path.read_text(encoding="utf-8"), re.MULTILINE):
                problems.append(f"{m.group(1)}::{name}: no such test")
    return problems


def missing_paths(lines: list[str], root: Path) -> list[str]:
    """Paths into the tree (qa/…, tests/…, benchmarks/…, docs/…) named in code that are not
    there; a module may be named without its .py (`qa/cli`)."""
    problems = []
    for line in lines:
        for m in _REPO_PATH.finditer(line):
            path = m.group(1).rstrip(".,:;")
            if not ((root / path).exists() or (root / f"{path}.py").is_file()):
                problems.append(f"{path}: no such file or folder")
    return problems


# --- the checks ----------------------------------------------------------------------------------


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def too_long(text: str, limit: int = README_MAX_LINES) -> str | None:
    n = len(text.splitlines())
    return f"{n} lines, more than {limit}" if n > limit else None


def test_readme_is_a_short_front_door():
    assert too_long(README.read_text(encoding="utf-8")) is None


def test_readme_links_to_every_page_of_the_docs():
    targets = {(README.parent / t.partition("#")[0]).resolve()
               for t in links(README.read_text(encoding="utf-8"))}
    assert [_name(p) for p in PAGES[1:] if p.resolve() not in targets] == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_links_lead_somewhere(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_documented_commands_exist(page):
    lines = code_lines(page.read_text(encoding="utf-8"))
    assert unknown_qa_commands(lines, cli.commands) == []
    assert unknown_make_targets(lines, make_targets(ROOT / "Makefile")) == []
    assert missing_scripts_and_tests(lines, ROOT) == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_named_files_exist(page):
    assert missing_paths(code_lines(page.read_text(encoding="utf-8")), ROOT) == []


def test_readme_shows_the_two_commands():
    lines = code_lines(README.read_text(encoding="utf-8"))
    assert {"run", "test"} <= {t for line in lines for t in _MAKE.findall(line)}


# --- the checkers themselves find what they are for ----------------------------------------------


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Tables, and `code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    text = ("# Title\n\n## Same heading\n\n## Same heading\n\n"
            "[ok](other.md) [ok](other.md#other-page) [ok](other.md#tables-and-code) "
            "[ok](#same-heading-1) [ok](https://example.org/none) ![a [1] pic](other.md)\n"
            "[bad](missing.md) [bad](other.md#nowhere) [bad](#same-heading-2) [bad, over\n"
            "a line break](gone.md)\n"
            "`[not a link](missing-in-code.md)`\n```\n[not a link](missing-in-block.md)\n```\n")
    assert broken_links(page, text) == [
        "missing.md: no such file",
        "other.md#nowhere: no heading #nowhere in other.md",
        "#same-heading-2: no heading #same-heading-2 in page.md",
        "gone.md: no such file",
    ]


def test_slugs_follow_githubs_rule():
    assert slug("The rules' abstention threshold") == "the-rules-abstention-threshold"
    assert slug("`qa ask` output") == "qa-ask-output"
    assert slug("Binding, login and uploads") == "binding-login-and-uploads"
    assert slug("Parity check: before / after") == "parity-check-before--after"


def test_the_command_checker_finds_a_missing_command_and_option():
    text = ("Run `python -m qa ask --json [-k 5] QUESTION`, or `python -m qa\nnosuch`.\n\n"
            "```bash\nqa index --nosuch\nfor A in x; do python -m qa eval F --answerer $A; done\n"
            "python -m qa search \\\n  --nosuch-either Q\n```\n")
    assert unknown_qa_commands(code_lines(text), cli.commands) == [
        "qa index --nosuch: no such option", "qa search --nosuch-either: no such option",
        "qa nosuch: no such command (python -m qa nosuch)"]


def test_the_make_checker_finds_a_missing_target():
    targets = make_targets(ROOT / "Makefile")
    assert {"run", "test", "quick"} <= targets
    assert unknown_make_targets(["make run", "make nosuch  # x"], targets) == [
        "make nosuch: no such target"]


def test_the_script_checker_finds_missing_scripts_options_and_tests():
    lines = ["python benchmarks/bench_ingest.py corpus",
             "python benchmarks/nosuch.py", "python benchmarks/bench_embed.py --repeat 2 --nosuch",
             "python -m pytest tests/test_nosuch.py", "`tests/test_docs.py::test_nosuch`",
             "tests/test_docs.py::test_readme_is_a_short_front_door"]
    assert missing_scripts_and_tests(lines, ROOT) == [
        "benchmarks/nosuch.py: no such script", "benchmarks/bench_embed.py --nosuch: no such option",
        "tests/test_nosuch.py: no such test file", "tests/test_docs.py::test_nosuch: no such test"]


def test_the_path_checker_finds_an_outdated_module_path():
    assert missing_paths(["qa/index/search.py: Retriever", "qa/retrieve.py", "docs/screenshot.png",
                          "QA_CACHE_DIR/encoder-onnx-<hash>/"], ROOT) == [
        "qa/retrieve.py: no such file or folder"]


def test_the_length_check_counts_lines():
    assert too_long("line\n" * README_MAX_LINES) is None
    assert too_long("line\n" * (README_MAX_LINES + 1)) == f"{README_MAX_LINES + 1} lines, more than 250"
