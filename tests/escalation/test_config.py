"""Settings: environment overrides, and every setting documented."""
from __future__ import annotations

from escalation.config import SETTINGS, load_settings


def test_environment_overrides_defaults():
    settings = load_settings("/inst", {"CARE_WORKER_INTERVAL": "2.5", "CARE_AUTO_CLOSE_DAYS": "3"})
    assert settings["WORKER_INTERVAL"] == 2.5 and settings["AUTO_CLOSE_DAYS"] == 3
    assert settings["DATABASE_URL"] == "sqlite:////inst/escalation.sqlite3"


def test_every_setting_is_in_the_readme(repo_root):
    readme = (repo_root / "README.md").read_text()
    missing = [s.env_var for s in SETTINGS if f"`{s.env_var}`" not in readme]
    assert missing == []
