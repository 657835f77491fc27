"""Live-chat fan-out: 500 open SSE streams, messages published through the API.

Loopback only, bounded in time. The script creates a fresh PostgreSQL database, runs
``flask init-db``, and starts the escalation service under gunicorn as the stack runs it
(``gthread`` worker: the SSE stream holds one thread for as long as it is open, so the worker
needs at least as many threads as open streams; see ``--threads``). Then, for each scenario:

- ``one-ticket``: one ticket, ``--streams`` customers' streams on it (500 watchers);
- ``many-tickets``: ``--streams`` tickets with one stream each;

it opens the streams (``GET /api/v1/conversations/<token>/events``, plain asyncio sockets,
no client library needed), waits until every stream has its first frame, then publishes
messages with ``POST /api/v1/conversations/<token>/messages`` (the real API: validation,
ticket row, event row, commit, announcement on the bus) and records, for each delivery, the
time from just before the POST to the frame arriving at the stream. Reported: deliveries
received vs expected (matched by a sequence number in the message body), latency
p50/p95/p99/max, the POST latency, and the server's CPU (user+system seconds over the run,
from /proc) and resident memory (all gunicorn processes) idle, with the streams open and at
the end.

``--redis`` adds the scale-out variant: two gunicorn processes on the same database with
``CARE_REDIS_URL`` set; half the streams on each, every message published on the first, so
the second process's streams only wake through the Redis relay.

    .venv/bin/python bench/bench_sse_fanout.py                     # 500 streams, both scenarios
    .venv/bin/python bench/bench_sse_fanout.py --redis             # + the two-process variant
    .venv/bin/python bench/bench_sse_fanout.py --streams 100 --threads 16   # what 16 threads hold
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from careops.processes import VENV, Process, free_port  # noqa: E402
from careops.supervisor import Supervisor  # noqa: E402
from pgdb import create_database  # noqa: E402

TOKEN = "bench-service-token"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.platform()}, "
            f"Python {platform.python_version()}, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# ------------------------------------------------------------------------------------ server stats


def process_tree(root: int) -> list[int]:
    pids, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        pids += [int(c) for c in children]
        frontier += [int(c) for c in children]
    return pids


def usage(roots: list[int]) -> tuple[float, float, int]:
    """(CPU seconds user+system, RSS MiB, threads) of the gunicorn processes."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu = rss = 0.0
    threads = 0
    for root in roots:
        for pid in process_tree(root):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(stat[11]) + int(stat[12])) / tick
                threads += int(stat[17])
                rss += int(stat[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
            except (OSError, IndexError):
                continue
    return cpu, rss, threads


# ------------------------------------------------------------------------------------ HTTP (asyncio)


async def request(host: str, port: int, method: str, path: str, body: dict | None = None,
                  headers: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    return await asyncio.wait_for(_request(host, port, method, path, body, headers), timeout)


async def _request(host: str, port: int, method: str, path: str, body: dict | None,
                   headers: dict[str, str] | None) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    payload = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.0", f"Host: {host}:{port}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


@dataclass
class Stream:
    url: tuple[str, int]
    token: str
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    received: dict[int, float] = field(default_factory=dict)  # seq -> monotonic arrival
    error: str = ""


async def read_stream(stream: Stream, stop: asyncio.Event) -> None:
    host, port = stream.url
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET /api/v1/conversations/{stream.token}/events HTTP/1.0\r\nHost: {host}:{port}\r\n"
                     f"Accept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            stream.error = status.decode(errors="replace").strip()
            stream.ready.set()
            return
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        event = ""
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                stream.error = stream.error or "closed by the server"
                break
            now = time.monotonic()
            text = line.decode().rstrip("\r\n")
            if text.startswith("retry:"):
                stream.ready.set()
            elif text.startswith("event: "):
                event = text[7:]
            elif text.startswith("data: ") and event == "message":
                body = json.loads(text[6:]).get("body", "")
                if body.startswith("bench "):
                    stream.received[int(body.split()[1])] = now
        writer.close()
    except (OSError, asyncio.IncompleteReadError) as exc:
        stream.error = f"{exc.__class__.__name__}: {exc}"
        stream.ready.set()


async def open_ticket(url: tuple[str, int], n: int) -> str:
    status, body = await request(*url, "POST", "/api/v1/tickets", {
        "name": f"Watcher {n}", "email": f"watcher-{n}-{uuid.uuid4().hex[:6]}@example.com", "channel": "web_chat",
        "subject": "Where is my order"},
        {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": uuid.uuid4().hex})
    assert status == 201, (status, body[:300])
    return json.loads(body)["token"]


@dataclass
class Scenario:
    name: str
    tickets: int
    streams_per_ticket: int
    messages_per_ticket: int
    interval: float  # seconds between two publishes


async def run_scenario(sc: Scenario, publish_url: tuple[str, int], stream_urls: list[tuple[str, int]],
                       roots: list[int], timeout: float) -> dict:
    tokens = []
    for i in range(0, sc.tickets, 20):  # a few at a time: the service has ~tens of threads to spare
        tokens += await asyncio.gather(*(open_ticket(publish_url, n) for n in range(i, min(i + 20, sc.tickets))))
    stop = asyncio.Event()
    pairs = [(t, k) for t in range(sc.tickets) for k in range(sc.streams_per_ticket)]
    streams = [Stream(stream_urls[j % len(stream_urls)], tokens[t]) for j, (t, _) in enumerate(pairs)]
    cpu0, rss_idle, _ = usage(roots)
    t_open = time.monotonic()
    tasks = [asyncio.create_task(read_stream(s, stop)) for s in streams]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), timeout)
        opened = time.monotonic() - t_open
    except asyncio.TimeoutError:
        opened = float("nan")
    connected = sum(1 for s in streams if s.ready.is_set() and not s.error)
    await asyncio.sleep(1.0)
    cpu1, rss_open, threads_open = usage(roots)

    sent: dict[int, tuple[int, float]] = {}  # seq -> (ticket index, monotonic send time)
    post_times: list[float] = []
    post_errors = 0
    seq = 0

    async def publish(ticket: int, number: int) -> None:
        nonlocal post_errors
        t0 = time.monotonic()
        sent[number] = (ticket, t0)
        try:
            status, _ = await request(*publish_url, "POST", f"/api/v1/conversations/{tokens[ticket]}/messages",
                                      {"body": f"bench {number} from the customer"})
        except (OSError, asyncio.TimeoutError):
            status = 0
        post_times.append(time.monotonic() - t0)
        if status != 201:
            post_errors += 1

    t_pub = time.monotonic()
    posts = []
    for _ in range(sc.messages_per_ticket):
        for ticket in range(sc.tickets):
            posts.append(asyncio.create_task(publish(ticket, seq)))
            seq += 1
            await asyncio.sleep(sc.interval)
    await asyncio.gather(*posts)
    expected = sum(sc.streams_per_ticket for _ in sent)
    token_index = {tok: i for i, tok in enumerate(tokens)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for s in streams for n in s.received if n in sent and sent[n][0] == token_index[s.token]) >= expected:
            break
        await asyncio.sleep(0.2)
    publish_wall = time.monotonic() - t_pub
    cpu2, rss_end, threads_end = usage(roots)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    latencies, by_url = [], {}
    delivered = 0
    for s in streams:
        ticket = token_index[s.token]
        for number, arrived in s.received.items():
            if number in sent and sent[number][0] == ticket:
                delivered += 1
                latencies.append(arrived - sent[number][1])
                by_url.setdefault(s.url, []).append(arrived - sent[number][1])
    return {
        "scenario": sc.name, "streams": len(streams), "connected": connected, "open_s": opened,
        "messages": len(sent), "expected": expected, "delivered": delivered,
        "lost": expected - delivered, "post_errors": post_errors,
        "p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
        "max": max(latencies, default=float("nan")), "post_p50": pct(post_times, 50), "post_p95": pct(post_times, 95),
        "publish_wall": publish_wall,
        "cpu_open": cpu1 - cpu0, "cpu_publish": cpu2 - cpu1, "rss_idle": rss_idle, "rss_open": rss_open,
        "rss_end": rss_end, "threads": threads_open, "errors": sorted({s.error for s in streams if s.error})[:3],
        "by_url": {f"{h}:{p}": (len(v), pct(v, 50), pct(v, 95), pct(v, 99)) for (h, p), v in by_url.items()},
    }


# ------------------------------------------------------------------------------------ orchestration


def start_services(count: int, url: str, threads: int, redis: str, workdir: Path) -> tuple[Supervisor, list, list]:
    env = {"CARE_DATABASE_URL": url, "CARE_SERVICE_TOKEN": TOKEN, "CARE_SECRET_KEY": "bench-secret",
           "CARE_INSTANCE_DIR": str(workdir / "instance"), "CARE_LOG_LEVEL": "WARNING"}
    if redis:
        env["CARE_REDIS_URL"] = redis
    subprocess.run([str(VENV / "flask"), "--app", "escalation", "init-db", "--no-demo"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)
    supervisor = Supervisor(workdir / "log", echo=lambda line: print(line, flush=True))
    urls = []
    for i in range(count):
        port = free_port()
        urls.append(("127.0.0.1", port))
        supervisor.start(Process(
            f"escalation-{i}", [str(VENV / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
                                "--workers", "1", "--threads", str(threads), "--timeout", "120",
                                "escalation:create_app()"],
            f"http://127.0.0.1:{port}/healthz", env=env))
    supervisor.wait_healthy()
    roots = [child.pid for child in supervisor.children.values()]
    return supervisor, urls, roots


def print_results(title: str, results: list[dict]) -> None:
    print(f"\n### {title}\n")
    print("| scenario | streams open | time to open all | messages | delivered / expected | latency p50 | p95 | p99 "
          "| max "
          "| POST p50 / p95 | server CPU while publishing | RSS idle → open → end | threads |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['scenario']} | {r['connected']}/{r['streams']} | {r['open_s']:.1f} s | {r['messages']} "
              f"| {r['delivered']}/{r['expected']} | {r['p50'] * 1000:.0f} ms | {r['p95'] * 1000:.0f} ms "
              f"| {r['p99'] * 1000:.0f} ms | {r['max'] * 1000:.0f} ms "
              f"| {r['post_p50'] * 1000:.0f} / {r['post_p95'] * 1000:.0f} ms "
              f"| {r['cpu_publish']:.1f} CPU-s in {r['publish_wall']:.1f} s "
              f"| {r['rss_idle']:.0f} → {r['rss_open']:.0f} → {r['rss_end']:.0f} MiB | {r['threads']} |")
        if len(r["by_url"]) > 1:
            for where, (n, p50, p95, p99) in r["by_url"].items():
                print(f"|   ↳ streams on {where} | {n} deliveries | | | | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms "
                      f"| {p99 * 1000:.0f} ms | | | | | |")
        if r["errors"] or r["post_errors"]:
            print(f"|   ↳ errors | {r['errors']} | POST errors {r['post_errors']} | | | | | | | | | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--threads", type=int, default=0,
                        help="gunicorn threads per process (default: streams per process + 32)")
    parser.add_argument("--messages", type=int, default=20, help="messages in the one-ticket scenario")
    parser.add_argument("--rounds", type=int, default=2, help="messages per ticket in the many-tickets scenario")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between publishes (one-ticket)")
    parser.add_argument("--rate", type=float, default=50.0, help="publishes per second (many-tickets)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for streams / deliveries")
    parser.add_argument("--redis", action="store_true", help="also run two processes fanned out through Redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--scenarios", default="one-ticket,many-tickets")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    started = time.monotonic()
    scenarios = {
        "one-ticket": Scenario(f"1 ticket × {args.streams} streams", 1, args.streams, args.messages, args.interval),
        "many-tickets": Scenario(f"{args.streams} tickets × 1 stream", args.streams, 1, args.rounds, 1 / args.rate),
    }
    chosen = [scenarios[name.strip()] for name in args.scenarios.split(",") if name.strip()]
    variants = [("one process (in-memory bus)", 1, "")]
    if args.redis:
        variants.append(("two processes, Redis fan-out (publish on the first)", 2, args.redis_url))
    for title, count, redis in variants:
        threads = args.threads or (args.streams // count + 32)
        results = []
        for sc in chosen:
            # a fresh service per scenario: a stream the client closed keeps its thread until the
            # server next writes to it (the keep-alive, CARE_SSE_HEARTBEAT seconds later)
            with tempfile.TemporaryDirectory(prefix="care-sse-") as tmp:
                url = create_database("care_bench_sse")
                supervisor, urls, roots = start_services(count, url, threads, redis, Path(tmp))
                try:
                    results.append(asyncio.run(run_scenario(sc, urls[0], urls, roots, args.timeout)))
                finally:
                    supervisor.stop()
        print_results(f"{title}; gunicorn gthread, 1 worker × {threads} threads per process", results)
    print(f"\ntotal wall time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
