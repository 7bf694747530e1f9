"""The docs match the command line: every `dataladder` command in README.md and docs/*.md names a real
subcommand and only options it has; every docs page is linked from the README; every relative link
(and its #anchor) resolves; every subcommand is named in the README.

    .venv/bin/python -m pytest -q tests/test_docs.py

A failure names the doc file and line. Commands are read from fenced `bash`/`sh`/`console` blocks, from
untagged blocks of `dataladder` lines, and from inline code spans that start with `dataladder `. No model
is loaded: only the Typer app is imported.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

SHELL_TAGS = {"bash", "sh", "shell", "console"}
SEPARATORS = {"&&", "||", ";", "|", "&"}
REDIRECTS = {">", ">>", "<", "2>", "2>>", "&>"}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
ANCHOR_TAG = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def _app():
    """The Typer app, wherever the refactor has put it."""
    try:
        from dataladder.cli.main import app
    except ModuleNotFoundError as e:
        if e.name != "dataladder.cli.main":  # a broken import inside it: show that, not the fallback's error
            raise
        from dataladder.cli import app
    return app


@lru_cache(maxsize=1)
def _cli():
    import typer.main

    return typer.main.get_command(_app())


def _options(cmd) -> set[str]:
    # Typer may vendor its own click (typer._click), so options are told by their kind, not by class
    opts = {"--help"}
    for p in cmd.params:
        if getattr(p, "param_type_name", None) == "option":
            opts.update(p.opts)
            opts.update(p.secondary_opts)
    return opts


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _fenced_blocks(lines: list[str]):
    """(tag, [(line number, text), ...]) for every fenced block; line numbers are 1-based."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, tag, body = m[2], m[3].lower(), []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
            body.append((i + 1, lines[i]))
            i += 1
        yield tag, body
        i += 1


def _is_dataladder_line(text: str) -> bool:
    return text.lstrip().lstrip("$ ").startswith(("dataladder ", ".venv/bin/dataladder "))


def _logical_lines(body: list[tuple[int, str]]):
    """Join `\\` continuations; each logical line keeps its first physical line's number."""
    start, parts = None, []
    for number, text in body:
        if start is None:
            start = number
            text = re.sub(r"^\s*\$\s+", "", text)  # a console prompt
        if text.rstrip().endswith("\\"):
            parts.append(text.rstrip()[:-1])
            continue
        parts.append(text)
        yield start, " ".join(p.strip() for p in parts)
        start, parts = None, []
    if parts:
        yield start, " ".join(p.strip() for p in parts)


def _without_fences(lines: list[str]) -> list[str]:
    """The page with fenced blocks blanked (line count kept), for prose-only checks."""
    out, fence = [], None
    for line in lines:
        m = FENCE.match(line)
        if fence is None and m:
            fence = m[2]
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)):
                fence = None
            out.append("")
        else:
            out.append(line)
    return out


def _inline_commands(lines: list[str]):
    """(line number, text) of inline code spans in prose that start with `dataladder `."""
    text = "\n".join(_without_fences(lines))
    for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", text):
        span = " ".join(m[1].split())
        if span.startswith(("dataladder ", ".venv/bin/dataladder ")):
            yield text.count("\n", 0, m.start()) + 1, span


def _commands():
    """Every command line that runs `dataladder`, as (file, line, text)."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").split("\n")
        for tag, body in _fenced_blocks(lines):
            if tag in SHELL_TAGS or (tag == "" and any(_is_dataladder_line(t) for _, t in body)):
                for number, text in _logical_lines(body):
                    if "dataladder" in text:
                        found.append((_rel(page), number, text))
        for number, span in _inline_commands(lines):
            found.append((_rel(page), number, span))
    return found


def _tokens(text: str) -> list[str]:
    lex = shlex.shlex(text, posix=True, punctuation_chars=";&|<>")
    lex.whitespace_split = True
    lex.commenters = "#"
    return list(lex)


def _segments(tokens: list[str]):
    seg, skip = [], False
    for tok in tokens:
        if skip:
            skip = False
        elif tok in SEPARATORS:
            yield seg
            seg = []
        elif tok in REDIRECTS:
            skip = True
        else:
            seg.append(tok)
    yield seg


def _dataladder_args(seg: list[str]) -> list[str] | None:
    """The arguments after `dataladder` in one shell command, or None when it runs something else."""
    seg = list(seg)
    while seg and ENV_ASSIGNMENT.match(seg[0]):
        seg.pop(0)
    while seg and seg[0] in ("nice", "time", "timeout"):
        head = seg.pop(0)
        if head == "nice" and seg[:1] == ["-n"]:
            del seg[:2]
        elif head == "nice" and seg and re.fullmatch(r"-\d+", seg[0]):
            seg.pop(0)
        elif head == "timeout" and seg:
            seg.pop(0)
    if not seg:
        return None
    prog = seg[0].removeprefix(".venv/bin/")
    if prog == "dataladder":
        return seg[1:]
    if Path(prog).name.startswith("python") and seg[1:3] == ["-m", "dataladder"]:
        return seg[3:]
    return None


def _check(text: str) -> list[str]:
    """What is wrong with one documented command line: unknown subcommands and options."""
    cli = _cli()
    problems = []
    try:
        tokens = _tokens(text)
    except ValueError as e:
        return [f"cannot parse as a shell line ({e})"]
    for seg in _segments(tokens):
        args = _dataladder_args(seg)
        if args is None:
            continue
        top = _options(cli)
        while args and args[0].startswith("-"):  # the group's own options: --threads N
            name = args.pop(0)
            if name.split("=")[0] not in top:
                problems.append(f"`dataladder {name}`: no such global option (there are {sorted(top)})")
            elif "=" not in name and name != "--help" and args:
                args.pop(0)
        if not args:
            continue
        sub = args[0]
        if not re.fullmatch(r"[a-z][a-z0-9-]*", sub):
            continue  # a placeholder: `dataladder --threads N <command>`, `dataladder …`
        cmd = cli.commands.get(sub)
        if cmd is None:
            problems.append(f"`dataladder {sub}`: no such command (there are {sorted(cli.commands)})")
            continue
        opts = _options(cmd)
        for tok in args[1:]:
            if tok == "--":
                break
            if not tok.startswith("-") or tok == "-" or re.fullmatch(r"-[\d.]+\w*", tok):
                continue  # a value, a stdin dash, a negative number
            name = tok.split("=")[0]
            if name not in opts:
                problems.append(f"`dataladder {sub} {name}`: no such option (`dataladder {sub} --help`)")
    return problems


COMMANDS = _commands()


@pytest.mark.parametrize("page,line,text", COMMANDS, ids=[f"{p}:{n}" for p, n, _ in COMMANDS])
def test_documented_command_parses(page, line, text):
    problems = _check(text)
    assert not problems, f"{page}:{line}: {text}\n  " + "\n  ".join(problems)


def test_commands_found():
    # the collection itself works: the quick start's command is among them
    assert any(p == "README.md" and "dataladder demo" in t for p, _, t in COMMANDS)
    assert len({p for p, _, _ in COMMANDS}) > 3


def test_check_finds_stale_options():
    assert _check(".venv/bin/dataladder climb --skill add --no-such-option 3")
    assert _check("dataladder no-such-command --skill add")
    assert _check("FOO=1 nice -n 10 .venv/bin/dataladder probe --n 3 --tragett 2")
    assert not _check("FOO=1 nice -n 10 .venv/bin/dataladder probe --n 3  # --not-an-option in a comment")
    assert not _check("./setup.sh && .venv/bin/dataladder --threads 2 demo --quick")
    assert not _check("dataladder --threads N <command>")


@lru_cache(maxsize=1)
def _known_options() -> frozenset[str]:
    """Every option of every command, the group's, setup.sh's and the bench scripts'."""
    cli = _cli()
    known = set(_options(cli))
    for cmd in cli.commands.values():
        known |= _options(cmd)
    for script in [ROOT / "setup.sh", *sorted((ROOT / "bench").glob("*.py"))]:
        known |= set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", script.read_text(encoding="utf-8")))
    return frozenset(known)


@pytest.mark.parametrize("page", PAGES, ids=[_rel(p) for p in PAGES])
def test_options_named_in_prose_exist(page):
    # prose names options without their command (`--max-pairs` (3,200)), so this only asks that some command,
    # setup.sh or a bench script has each one: it catches an option renamed everywhere
    stale = []
    for number, line in enumerate(_without_fences(page.read_text(encoding="utf-8").split("\n")), 1):
        for span in re.findall(r"`([^`]+)`", line):
            for name in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", span):
                if name not in _known_options():
                    stale.append(f"{_rel(page)}:{number}: {name} (in `{span}`)")
    assert not stale, "options no command has:\n" + "\n".join(stale)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@lru_cache(maxsize=None)
def _anchors(path: Path) -> frozenset[str]:
    lines = _without_fences(path.read_text(encoding="utf-8").split("\n"))
    seen: dict[str, int] = {}
    anchors = set()
    for line in lines:
        anchors.update(ANCHOR_TAG.findall(line))
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = _slug(m[1])
            anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return frozenset(anchors)


def _links(page: Path):
    """(line number, target) of every markdown link in the page's prose (not in code)."""
    lines = _without_fences(page.read_text(encoding="utf-8").split("\n"))
    for number, line in enumerate(lines, 1):
        prose = re.sub(r"`[^`]*`", "", line)
        for m in LINK.finditer(prose):
            yield number, m[2]


@pytest.mark.parametrize("page", PAGES, ids=[_rel(p) for p in PAGES])
def test_relative_links_resolve(page):
    broken = []
    for number, target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{_rel(page)}:{number}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{_rel(page)}:{number}: {target}: no heading #{anchor} in {_rel(dest)}")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / t.partition("#")[0]).resolve() for _, t in _links(README) if t.partition("#")[0]}
    missing = [_rel(p) for p in DOCS if p.resolve() not in linked]
    assert DOCS, "docs/ holds no page"
    assert not missing, f"README.md links none of: {missing}"


def test_every_command_is_named_in_the_readme():
    text = README.read_text(encoding="utf-8")
    missing = [name for name in sorted(_cli().commands)
               if not re.search(rf"dataladder {re.escape(name)}(?![\w-])", text)]
    assert not missing, f"README.md never names: {', '.join(f'dataladder {n}' for n in missing)}"
