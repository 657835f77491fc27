"""No import cycles between our modules, function-local imports included (a function-local
import is usually a cycle in disguise): any cycle fails the test."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("escalation", "kb_index", "careops", "care_settings")

# Known and not yet untangled: none left (issue #15 removed the last three); keep it empty.
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from . import events" imports the module escalation.events, not the package
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        # a package registering its own submodules (a blueprint's route modules) is not a cycle of ours
        found.update(t for t in targets if t in known and t != name
                     and not (path.name == "__init__.py" and t.rpartition(".")[0] == name))
    return found


def runtime_nodes(tree: ast.AST):  # type: ignore[no-untyped-def]
    """Every node except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
             if "migrations" not in p.parts}
    known = set(files)
    return {name: imports(path, name, known) for name, path in files.items()}


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_new_import_cycle():
    cycles = [frozenset(c) for c in strongly_connected(graph())]
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert new == [], f"import cycles: {new}; move the shared piece to the module it belongs to"


def test_the_tickets_claims_assignment_cycle_is_gone():
    edges = graph()
    assert "escalation.tickets" not in edges["escalation.claims"]
    assert "escalation.tickets" not in edges["escalation.assignment"]


def test_the_cycles_of_issue_15_are_gone():
    edges = graph()
    assert "escalation.kb" not in edges["escalation.publishing"]  # the index code lives in kb
    assert "escalation.ratelimit" not in edges["escalation.http"]
    assert "escalation.mail.render" not in edges["escalation.mail.templates_store"]


def test_a_function_local_import_counts(tmp_path):
    """An import inside a function is an edge of the graph like one at the top (it hides a cycle)."""
    (tmp_path / "a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / "b.py").write_text("from . import a\n")
    known = {"pkg.a", "pkg.b"}
    assert imports(tmp_path / "a.py", "pkg.a", known) == {"pkg.b"}
    assert strongly_connected({"pkg.a": imports(tmp_path / "a.py", "pkg.a", known),
                               "pkg.b": imports(tmp_path / "b.py", "pkg.b", known)}) == [{"pkg.a", "pkg.b"}]


def test_the_checker_sees_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


# one package per audience (STYLE.md); what two of them share lives in a module of its own
BLUEPRINTS = ("escalation.admin", "escalation.agent", "escalation.api", "escalation.portal", "escalation.public")


def blueprint_of(module: str) -> str | None:
    return next((b for b in BLUEPRINTS if module == b or module.startswith(b + ".")), None)


def test_no_blueprint_imports_another():
    """The agent console took ``act`` from admin/desk.py, the portal and the agent console their
    event stream from the API's conversations: a change to one audience's routes broke another's."""
    crossings = sorted(f"{module} -> {target}" for module, targets in graph().items()
                       for target in targets
                       if blueprint_of(module) and blueprint_of(target) not in (None, blueprint_of(module)))
    assert crossings == [], "move what they share into a module outside the blueprints"


def test_the_blueprint_rule_sees_a_crossing():
    assert blueprint_of("escalation.admin.desk") == "escalation.admin"
    assert blueprint_of("escalation.agent") == "escalation.agent"
    assert blueprint_of("escalation.apiary") is None and blueprint_of("escalation.consoles") is None
