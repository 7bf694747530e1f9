"""The layering of dataladder, read from the source (ast; nothing is imported): no import cycle of any kind,
executors and forecast below the ladder, core below everything, and no module grown past LIMIT lines.

Every import counts: top-level, inside a function (lazy) and under `TYPE_CHECKING`, plus
`importlib.import_module("dataladder....")` with a constant name; importing `a.b.c` counts as an edge to
`a.b.c` (or the nearest module above it that exists)."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "dataladder"

# cycles still waiting for their fix; each one names its modules (remove the entry with the cycle)
ALLOWED_CYCLES: list[set[str]] = []

LIMIT = 420  # lines a module may have
# modules over LIMIT today (wc -l): split them rather than grow them; a new one over LIMIT fails the test
OVER_LIMIT = {
    "dataladder/data/synth.py",  # 454
}


@lru_cache(maxsize=None)
def graph() -> dict[str, set[str]]:
    """Module → the dataladder modules it imports, in any way."""
    mods: dict[str, Path] = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p

    def resolve(m: str) -> str | None:
        while m and m not in mods:
            m = m.rpartition(".")[0]
        return m or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        targets: list[str] = []
        for n in ast.walk(ast.parse(p.read_text(), str(p))):
            if isinstance(n, ast.Import):
                targets += [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    parts = pkg.split(".")[: len(pkg.split(".")) - n.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets += [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in n.names]
            elif (isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", None)) == "import_module"
                  and n.args and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)):
                targets.append(n.args[0].value)
        for t in targets:
            if t == "dataladder" or t.startswith("dataladder."):
                if (r := resolve(t)) is not None and r != m:
                    edges[m].add(r)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(comp)
    return out


def imports_from(layer: str, banned: str) -> dict[str, list[str]]:
    """Modules of `layer` (a package) that import a module of `banned` (a package), with what they import."""
    inside = lambda m, pkg: m == pkg or m.startswith(pkg + ".")  # noqa: E731
    return {m: sorted(t for t in ts if inside(t, banned)) for m, ts in sorted(graph().items())
            if inside(m, layer) and any(inside(t, banned) for t in ts)}


def test_the_graph_is_read():
    g = graph()
    assert "dataladder.ladder.engine" in g and "dataladder.core.store" in g["dataladder.ladder.engine"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_cycles():
    found = cycles(graph())
    new = [sorted(c) for c in found if c not in ALLOWED_CYCLES]
    assert not new, f"import cycles (counting lazy and TYPE_CHECKING imports): {new}"
    fixed = [sorted(c) for c in ALLOWED_CYCLES if c not in found]
    assert not fixed, f"these cycles are gone: remove them from ALLOWED_CYCLES: {fixed}"


def test_executors_know_nothing_of_ladders():
    assert imports_from("dataladder.executors", "dataladder.ladder") == {}


def test_forecast_is_below_the_ladder():
    assert imports_from("dataladder.forecast", "dataladder.ladder") == {}


def test_core_imports_only_core():
    g = graph()
    out = {m: sorted(t for t in ts if not (t == "dataladder.core" or t.startswith("dataladder.core.")))
           for m, ts in g.items() if m == "dataladder.core" or m.startswith("dataladder.core.")}
    assert {m: ts for m, ts in out.items() if ts} == {}


def test_no_module_grows_past_the_limit():
    lines = {str(p.relative_to(ROOT.parent)): len(p.read_text().splitlines()) for p in ROOT.rglob("*.py")}
    over = {p: n for p, n in sorted(lines.items()) if n > LIMIT}
    assert {p: n for p, n in over.items() if p not in OVER_LIMIT} == {}, f"modules over {LIMIT} lines: split them"
    assert sorted(OVER_LIMIT - set(over)) == [], f"no longer over {LIMIT} lines: remove them from OVER_LIMIT"
