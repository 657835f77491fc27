"""Probe: are the queue page's slow runs garbage collections? 30 requests of ``/admin/`` on the
filled bench database with a ``gc.callbacks`` timer, then the same after ``gc.freeze()``
(docs/benchmarks.md, issue 15).

    .venv/bin/python bench/probe_queue_gc.py   # needs care_bench filled by bench_tickets_pg.py
"""
from __future__ import annotations

import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_tickets_pg as bench  # noqa: E402
from pgdb import database_url  # noqa: E402


def main() -> None:
    app = bench.make_app(database_url("care_bench"))
    client = app.test_client()
    client.post("/login", data={"username": "kim", "password": bench.PASSWORD})
    pauses: list[tuple[int, float]] = []
    started = [0.0]

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(timer)
    for mode in ("plain", "frozen"):
        if mode == "frozen":
            gc.collect()
            gc.freeze()
        for _ in range(3):
            client.get("/admin/")
        pauses.clear()
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            client.get("/admin/")
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"{mode}: p50 {times[14]:.1f} ms, p95 {times[28]:.1f} ms, max {times[-1]:.1f} ms; gen-2 pauses (ms) "
              f"{[round(p * 1000, 1) for g, p in pauses if g == 2]}; gen-0/1 total "
              f"{sum(p for g, p in pauses if g < 2) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
