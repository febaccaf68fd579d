"""Imports go one way: no module of m3mail/ imports, even lazily inside a function, a module that imports it
back. Imports made for the type checker only (``if TYPE_CHECKING:``) do not count: they never run."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "m3mail"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    """The m3mail modules ``path`` imports (a name imported from a package counts if it is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
    skipped = {id(n) for node in guarded for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("m3mail")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("m3mail"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    edges = {name: imports(path, known) - {name} for name, path in paths.items()}
    for name in edges:  # importing a.b.c runs a/__init__ and a/b/__init__ first
        edges[name] = {m for m in edges[name] if not name.startswith(m + ".")}
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle, as the list of its modules, or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_imports_of_m3mail_have_no_cycle() -> None:
    edges = graph()
    assert "m3mail.job" in edges and "m3mail.commands" in edges["m3mail.job"]  # the graph is the real one
    assert cycle(edges) == [], " -> ".join(cycle(edges))


def test_the_deciding_stages_import_no_backend_and_no_io_module() -> None:
    edges = graph()
    pure = ("m3mail.selection", "m3mail.followup", "m3mail.classify", "m3mail.planning.slots",
            "m3mail.planning.calendar", "m3mail.rules", "m3mail.plan", "m3mail.actions")  # fmt: skip
    effects = ("m3mail.backends", "m3mail.state", "m3mail.job", "m3mail.executor", "m3mail.adviser")
    for name in pure:
        reached = {m for m in reachable(edges, name) if m.startswith(effects)}
        assert reached == set(), (name, reached)


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen, todo = set[str](), [start]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_a_pass_goes_snapshot_plan_execute_and_only_the_executor_writes_the_state() -> None:
    edges = graph()
    assert {"m3mail.plan", "m3mail.executor", "m3mail.state"} <= edges["m3mail.adviser"]
    assert "m3mail.executor" not in reachable(edges, "m3mail.plan")
    writes = ("store.put(", "store.add(", "store.save(", "store.done(", ".intend(")
    for name in ("m3mail.adviser", "m3mail.job", "m3mail.plan"):
        text = (PACKAGE / (name.split(".", 1)[1] + ".py")).read_text(encoding="utf-8")
        assert not [w for w in writes if w in text], name


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []
