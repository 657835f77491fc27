"""docs/kb_index.md documents every setting and the public API."""

from __future__ import annotations

from pathlib import Path

import pytest

import kb_index
from kb_index import settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "kb_index.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting):
    assert f"| `{setting.name}` | `{setting.env}` |" in DOC
    assert setting.help


@pytest.mark.parametrize("name", ["open_index", "build", "is_stale", "search", "get_article",
                                  "upsert_article", "delete_article", "IndexCorrupt",
                                  "ArticleError", "QueryError", "IndexIncompatible"])
def test_public_names_are_documented(name):
    assert name in DOC


def test_settings_precedence(monkeypatch):
    assert settings.get("max_query_chars") == 1000
    monkeypatch.setenv("CARE_KB_MAX_QUERY_CHARS", "50")
    assert settings.get("max_query_chars") == 50
    assert settings.get("max_query_chars", 20) == 20
    monkeypatch.setenv("CARE_KB_MAX_QUERY_CHARS", "lots")
    with pytest.raises(ValueError, match="CARE_KB_MAX_QUERY_CHARS"):
        settings.get("max_query_chars")


def test_import_loads_no_model():
    import subprocess
    import sys

    code = ("import sys, kb_index; "
            "print(any(m in sys.modules for m in ('torch', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
    assert kb_index.__all__
