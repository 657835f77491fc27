"""Chat turn latency through Rasa's REST channel with N concurrent conversations.

Starts a throwaway copy of the product (trained model, real action server, escalation
service with the real embedding model; loopback only) unless --rasa-url is given. Each
conversation alternates a greeting, a KB question (which runs the KB action: an HTTP call to
the escalation service, embedding + hybrid search) and a thank-you. Bounded: --turns per
conversation, and the whole run stops after --max-seconds.

    .venv/bin/python bench/bench_chat_turns.py --concurrency 20 --turns 6
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from careops.conversations import sender_token  # noqa: E402

QUESTIONS = ["how do I reset my password", "where is my parcel", "can I return boots I bought last week",
             "my account was inactive for two years", "how do I cancel Northwind Plus", "the app crashes on start"]
SCRIPT = ["hello", None, "thanks"]  # None: a KB question


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def say(session: requests.Session, rasa_url: str, secret: str, sender: str, text: str,
        timeout: float = 120) -> requests.Response:
    """One REST turn; the channel wants the sender's token (chatbot/care_channels.py)."""
    return session.post(f"{rasa_url}/webhooks/rest/webhook", timeout=timeout, json={
        "sender": sender, "token": sender_token(secret, sender), "message": text})


def run(rasa_url: str, secret: str, concurrency: int, turns: int, max_seconds: float) -> None:
    latencies: dict[str, list[float]] = {"kb": [], "other": []}
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def conversation(n: int) -> None:
        nonlocal errors
        session = requests.Session()
        sender = f"bench-{os.getpid()}-{n}-{time.time_ns()}"
        for turn in range(turns):
            if time.monotonic() > deadline:
                return
            text = SCRIPT[turn % len(SCRIPT)] or QUESTIONS[(n + turn) % len(QUESTIONS)]
            kind = "other" if SCRIPT[turn % len(SCRIPT)] else "kb"
            started = time.perf_counter()
            try:
                reply = say(session, rasa_url, secret, sender, text)
                ok = reply.status_code == 200 and reply.json()
            except requests.RequestException:
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies[kind].append(elapsed)
                else:
                    errors += 1

    # one warm-up turn so model loading is not measured
    say(requests.Session(), rasa_url, secret, "warm", QUESTIONS[0], timeout=300)
    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(conversation, range(concurrency)))
    wall = time.perf_counter() - wall
    every = latencies["kb"] + latencies["other"]
    print(f"concurrency={concurrency} turns/conversation={turns} cpus={os.cpu_count()}")
    print(f"{'turns':<12}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, values in (("KB answer", latencies["kb"]), ("other", latencies["other"]), ("all", every)):
        if values:
            print(f"{name:<12}{len(values):>6}{percentile(values, 50) * 1000:>10.0f}{percentile(values, 95) * 1000:>10.0f}"
                  f"{percentile(values, 99) * 1000:>10.0f}{statistics.mean(values) * 1000:>10.0f}")
    print(f"throughput: {len(every) / wall:.1f} turns/s over {wall:.1f}s; errors: {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasa-url", help="an already running Rasa (default: start a throwaway stack)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args()
    if args.rasa_url:
        secret = os.environ.get("CARE_CHAT_SECRET") or sys.exit("--rasa-url needs that Rasa's CARE_CHAT_SECRET")
        run(args.rasa_url, secret, args.concurrency, args.turns, args.max_seconds)
        return
    from careops.ephemeral import missing_build_outputs, temporary_stack

    if missing_build_outputs():
        sys.exit("; ".join(missing_build_outputs()))
    with tempfile.TemporaryDirectory() as tmp, \
            temporary_stack(Path(tmp), demo_password="bench-password", echo=lambda m: print(m, file=sys.stderr)) \
            as (config, _):
        run(config.rasa_url, config.chat_secret, args.concurrency, args.turns, args.max_seconds)


if __name__ == "__main__":
    main()
