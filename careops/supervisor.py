"""Start processes, wait until each answers its health check, stop them all together."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .processes import Process, base_environment


class StartFailed(RuntimeError):
    pass


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
            return 200 <= response.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


class Supervisor:
    """Owns a set of child processes; each gets its own process group and log file."""

    def __init__(self, log_dir: Path, echo: Callable[[str], None] = print) -> None:
        self.log_dir = log_dir
        self.echo = echo
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.processes: dict[str, Process] = {}

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, process: Process) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path(process.name).open("ab")
        env = {**base_environment(), **process.env}
        self.children[process.name] = subprocess.Popen(
            process.argv, cwd=process.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.processes[process.name] = process
        log.close()

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_healthy(self, names: list[str] | None = None) -> None:
        pending = dict.fromkeys(names or list(self.processes))
        started = time.monotonic()
        while pending:
            for name in list(pending):
                process, child = self.processes[name], self.children[name]
                if child.poll() is not None:
                    raise StartFailed(f"{name} exited with code {child.returncode} while starting.\n"
                                      f"Last lines of {self.log_path(name)}:\n{self.tail(name)}")
                if is_healthy(process.health_url):
                    self.echo(f"  ✓ {name:<11} up ({time.monotonic() - started:.0f}s)  {process.health_url}")
                    pending.pop(name)
                elif time.monotonic() - started > process.ready_timeout:
                    raise StartFailed(f"{name} did not answer {process.health_url} within "
                                      f"{process.ready_timeout:.0f}s.\nLast lines of "
                                      f"{self.log_path(name)}:\n{self.tail(name)}")
            time.sleep(0.5)

    def exited(self) -> list[tuple[str, int]]:
        return [(n, c.returncode) for n, c in self.children.items() if c.poll() is not None]

    def stop(self, grace: float = 10.0) -> None:
        for child in self.children.values():
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.wait()
        self.children.clear()
