"""One audit helper (issue 15): every audit row is written by ``audit.record``, so every entry
has the same shape. An ``AuditEntry(...)`` built anywhere else in the service fails here."""
from __future__ import annotations

import ast
from pathlib import Path

import escalation

PACKAGE = Path(escalation.__file__).parent
HOME = PACKAGE / "audit.py"


def test_audit_entries_are_built_only_by_audit_record():
    built = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == HOME or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "AuditEntry":
                built.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert built == [], f"use audit.record instead of AuditEntry(...) in {built}"
