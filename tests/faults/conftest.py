"""Fault-injection tests: real processes (as careops starts them) that we kill, restart or
cut off from their database, on throwaway data. Logs of the processes are copied to
``tests/artifacts/faults-logs/<test>/`` for the post-mortem of a failure."""
from __future__ import annotations

import shutil
from pathlib import Path

from careops.processes import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts" / "faults-logs"


def keep_logs(name: str, log_dir: Path) -> None:
    target = ARTIFACTS / name
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    for log in log_dir.glob("*.log"):
        shutil.copyfile(log, target / log.name)
