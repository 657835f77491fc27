"""How a setting is declared, for every package of the project (escalation, kb_index, careops).

Standard library only, and importing it reads nothing: ``kb_index`` (no Flask) and ``careops``
(the process supervisor) import it as cheaply as the Flask service does. A setting has a name
(the key its package reads it by), its environment variable, a default, a parser and a
one-line help; each environment variable is declared once, here or in the one package that
owns it. The README's configuration table lists every one of them
(``tests/escalation/test_config.py`` checks it against the union of the three packages).

Precedence, everywhere: code default < environment variable < explicit value (a test dict,
an argument).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "CARE_"


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str
    parse: Callable[[str], Any] | None = None  # None: by the default's type (bool, int, float, str)
    secret: bool = False

    @property
    def key(self) -> str:
        """The key of the Flask config: the variable without its ``CARE_`` prefix."""
        return self.env.removeprefix(PREFIX)

    def from_text(self, raw: str) -> Any:
        if self.parse is not None:
            return self.parse(raw)
        if isinstance(self.default, bool):
            return _flag(raw)
        if isinstance(self.default, int):
            return int(raw)
        if isinstance(self.default, float):
            return float(raw)
        return raw

    def value(self, environ: Mapping[str, str] | None = None, override: Any = None) -> Any:
        """``override`` if given, else the environment's value (an empty one counts as unset),
        else the default. A value that does not parse names the variable."""
        if override is not None:
            return override
        raw = (os.environ if environ is None else environ).get(self.env)
        if raw is None or raw == "":
            return self.default
        try:
            return self.from_text(raw)
        except ValueError as exc:
            raise ValueError(f"{self.env}={raw!r} is not a valid {self.name}: {exc}") from exc


def by_name(settings: Iterable[Setting]) -> dict[str, Setting]:
    found: dict[str, Setting] = {}
    for setting in settings:
        if setting.name in found:
            raise ValueError(f"setting {setting.name} is declared twice")
        found[setting.name] = setting
    return found


# Read by two packages: the service opens the index that kb_index builds.
KB_SOURCE_DIR = Setting("source_dir", "CARE_KB_SOURCE_DIR", "data/kb",
                        "Folder of the KB article files (Markdown with front matter).")
KB_INDEX_DIR = Setting("index_dir", "CARE_KB_INDEX_DIR", "var/kb_index",
                       "Folder the KB index is built into and loaded from; rebuilt on start when stale or corrupt.")

