"""Cold start: `make run` with nothing changed, from the command to "All services up", and
Rasa alone from `rasa run` to answering, with what Rasa's start is made of.

Everything runs on free ports with its own instance folder and database (a temporary
folder), so a `make run` already listening on 5000/5005 is not disturbed; the KB index, model
and widget are this checkout's. `make run` is only timed when `make -q install model kb widget`
says there is nothing to build ("nothing changed"); otherwise the script says what to build.

    .venv/bin/python bench/bench_startup.py               # ~2-4 min: 3 Rasa starts, 1 make run
    .venv/bin/python bench/bench_startup.py --rounds 1 --skip-make
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from careops.processes import RASA_VENV, ROOT, StackConfig, free_port, stack  # noqa: E402
from careops.supervisor import is_healthy  # noqa: E402


# what `make run` builds before it starts anything (Makefile): all up to date = "nothing changed"
UP_TO_DATE = [".stamps/system", ".stamps/venv", ".stamps/venv-rasa", ".stamps/npm", "chatbot/models/care.tar.gz",
              "var/kb_index/manifest.json", "widget/dist/carechat.js"]


def timed_import(module: str) -> float:
    """Seconds for a fresh Rasa-venv Python to import ``module`` (interpreter start included)."""
    started = time.perf_counter()
    subprocess.run([str(RASA_VENV / "python"), "-c", f"import {module}"], cwd=ROOT / "chatbot", check=True,
                   capture_output=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    return time.perf_counter() - started


def rasa_ready(tmp: Path) -> tuple[float, str]:
    """Seconds from `rasa run` (the stack's command line and environment) to GET / answering."""
    config = StackConfig(rasa_port=free_port(), actions_port=free_port(), escalation_port=free_port(),
                         var_dir=tmp, instance_dir=tmp / "instance")
    rasa = next(p for p in stack(config) if p.name == "rasa")
    log = tmp / f"rasa-{time.time_ns()}.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(rasa.argv, cwd=rasa.cwd, env={**os.environ, **rasa.env}, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not is_healthy(rasa.health_url, timeout=1):
            if child.poll() is not None:
                sys.exit(f"rasa exited ({child.returncode}):\n{log.read_text()[-2000:]}")
            if time.perf_counter() - started > 600:
                sys.exit("rasa not ready after 600 s")
            time.sleep(0.2)
        return time.perf_counter() - started, log.read_text(errors="replace")
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=30)


def make_run(tmp: Path) -> tuple[float, list[str]]:
    """Seconds from `make run` to "All services up." and the supervisor's per-process lines."""
    ports = {name: str(free_port()) for name in ("CARE_PORT", "CARE_RASA_PORT", "CARE_ACTIONS_PORT",
                                                  "CARE_MAIL_CATCHER_SMTP_PORT", "CARE_MAIL_CATCHER_PORT")}
    env = {**os.environ, **ports, "CARE_INSTANCE_DIR": str(tmp / "instance"),
           "CARE_DATABASE_URL": f"sqlite:///{tmp / 'escalation.sqlite3'}"}
    subprocess.run(["make", "db"], cwd=ROOT, env=env, check=True, capture_output=True)  # its own DB, made first
    started = time.perf_counter()
    child = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip())
            if "All services up" in line:
                return time.perf_counter() - started, [x for x in lines if "✓" in x]
            if time.perf_counter() - started > 600:
                break
        sys.exit("make run did not report 'All services up':\n" + "\n".join(lines[-30:]))
    finally:
        os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)


def phases(log: str) -> str:
    """Rasa's own milestones, from its log lines' timestamps (when it prints them)."""
    marks = [line for line in log.splitlines()
             if re.search(r"Loading model|Starting Rasa server|Rasa server is up|Connection to SQL", line)]
    return "\n".join(f"    {m[:140]}" for m in marks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="Rasa starts to time")
    parser.add_argument("--skip-make", action="store_true", help="time Rasa alone, not `make run`")
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"import tensorflow: {timed_import('tensorflow'):.1f} s; "
          f"import rasa.core.agent: {timed_import('rasa.core.agent'):.1f} s "
          f"(fresh interpreter each, Rasa's venv)")
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for _ in range(args.rounds):
            seconds, log = rasa_ready(Path(tmp))
            times.append(seconds)
            print(f"rasa run → ready: {seconds:.1f} s (load average {os.getloadavg()[0]:.1f})", flush=True)
        print(f"rasa run → ready, median of {len(times)}: {statistics.median(times):.1f} s")
        if args.skip_make:
            return
        if subprocess.run(["make", "-q", *UP_TO_DATE], cwd=ROOT, capture_output=True).returncode != 0:
            print("make run not timed: something would be built first (run `make install model kb widget`)")
            return
        seconds, lines = make_run(Path(tmp))
        print(f"make run → All services up: {seconds:.1f} s (load average {os.getloadavg()[0]:.1f})")
        for line in lines:
            print(f"  {line.strip()}")


if __name__ == "__main__":
    main()
