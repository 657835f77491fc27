"""Settings: environment overrides, one declaration per variable, and every setting documented."""
from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from care_settings import KB_INDEX_DIR, KB_SOURCE_DIR, Setting
from careops.settings import SETTINGS as CAREOPS_SETTINGS
from escalation.config import SETTINGS, load_settings
from kb_index.settings import SETTINGS as KB_SETTINGS

# declared on the Rasa side (chatbot/, its own environment) or only in its YAML and `make run`
RASA_SIDE = {"CARE_API_URL", "CARE_API_TIMEOUT", "CARE_ACTIONS_URL", "CARE_RASA_TRACKER_URL", "CARE_RASA_TOKEN",
             "CARE_CHAT_SECRET", "CARE_CHAT_MAX_CHARS", "CARE_ACTIONS_TOKEN", "CARE_ACTIONS_HOST"}


def every_setting() -> list[Setting]:
    return [*SETTINGS, *KB_SETTINGS, *CAREOPS_SETTINGS]


def readme_table_variables(readme: str) -> set[str]:
    section = readme[readme.index("| variable | default | what it does |"):]
    section = section[:section.index("\n\n")]
    return {name for row in section.splitlines()[2:] for name in re.findall(r"`(CARE_[A-Z0-9_]+)`", row.split("|")[1])}


def test_environment_overrides_defaults():
    settings = load_settings("/inst", {"CARE_WORKER_INTERVAL": "2.5", "CARE_AUTO_CLOSE_DAYS": "3"})
    assert settings["WORKER_INTERVAL"] == 2.5 and settings["AUTO_CLOSE_DAYS"] == 3
    assert settings["DATABASE_URL"] == "sqlite:////inst/escalation.sqlite3"


def test_one_declaration_type_for_the_three_packages():
    assert all(type(s) is Setting for s in every_setting())


def test_each_variable_is_declared_once():
    """The KB folders are read by the service and by kb_index: one declaration, shared."""
    by_env: dict[str, list[Setting]] = {}
    for setting in every_setting():
        by_env.setdefault(setting.env, []).append(setting)
    twice = {env: found for env, found in by_env.items() if len({id(s) for s in found}) > 1}
    assert twice == {}
    assert KB_SOURCE_DIR in SETTINGS and KB_SOURCE_DIR in KB_SETTINGS
    assert KB_INDEX_DIR in SETTINGS and KB_INDEX_DIR in KB_SETTINGS
    assert load_settings("/inst", {"CARE_KB_INDEX_DIR": "/idx"})["KB_INDEX_DIR"] == "/idx"


def test_every_setting_is_in_the_readme(repo_root):
    table = readme_table_variables((repo_root / "README.md").read_text())
    missing = sorted({s.env for s in every_setting()} - table)
    assert missing == []


def test_the_readme_lists_no_setting_nobody_declares(repo_root):
    table = readme_table_variables((repo_root / "README.md").read_text())
    declared = {s.env for s in every_setting()} | RASA_SIDE
    assert sorted(table - declared) == []
    # the Rasa side's really exist there (its modules cannot be imported here: read as text)
    chatbot = " ".join(p.read_text() for p in (repo_root / "chatbot").rglob("*") if p.suffix in {".py", ".yml"}
                       and p.is_file())
    careops = " ".join(p.read_text() for p in (repo_root / "careops").glob("*.py"))
    assert sorted(v for v in RASA_SIDE if v not in chatbot + careops) == []


def test_a_bad_value_names_its_variable():
    chunk_chars = next(s for s in KB_SETTINGS if s.name == "chunk_chars")
    with pytest.raises(ValueError, match="CARE_KB_CHUNK_CHARS='many'"):
        chunk_chars.value({"CARE_KB_CHUNK_CHARS": "many"})
    assert chunk_chars.value({"CARE_KB_CHUNK_CHARS": ""}) == chunk_chars.default  # empty: unset


def test_importing_kb_index_changes_no_environment(repo_root):
    code = ("import os; before = dict(os.environ); import kb_index, escalation.config, careops.settings; "
            "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_kb_index_settings_need_no_flask(repo_root):
    code = "import sys, kb_index.settings; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_declarations_are_literal_data(repo_root):
    """Every Setting(...) call is in one of the declaring modules (no fourth way to declare one)."""
    declaring = {"escalation/config.py", "kb_index/settings.py", "careops/settings.py", "care_settings/__init__.py"}
    found = set()
    for package in ("escalation", "kb_index", "careops", "care_settings"):
        for path in (repo_root / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            if any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Setting" for n in ast.walk(tree)):
                found.add(str(path.relative_to(repo_root)))
    assert found <= declaring
