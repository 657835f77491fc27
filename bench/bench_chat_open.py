"""Open-loop, human-paced chat benchmark: what a website's traffic does to one instance.

Starts a throwaway copy of the product (careops.ephemeral.temporary_stack: trained model,
real action server, escalation service with the real embedding model, worker; loopback
only), then, for each level N of ``--levels``, keeps N conversations going for
``--duration`` seconds, the way people chat:

- conversations arrive on a schedule (spread evenly over the first ``--ramp`` seconds; each
  slot starts its next conversation when its last one ends), not when the bot has answered;
- a person sends a message, waits for the whole answer, then reads and types for 8–16 s
  (seeded random) before the next one; a conversation is 3–7 messages;
- the messages are a mix: KB questions from data/eval/kb_questions.jsonl, follow-ups,
  greetings, "thanks" / "yes" (no handoffs: they would open tickets and send mail);
- the transports are Rasa's REST channel (``token = sign(secret, sender)``, as
  careops/conversations.py does) and socket.io the way the widget talks to it (HTTP
  long-polling, ``session_request`` without an id, the channel's ``session_confirm``
  hands out the conversation id and its token, then ``user_uttered``). A socket.io turn
  ends when no further ``bot_uttered`` arrives within ``--quiet`` seconds; its latency is
  the time to the last message of the turn.

Printed per transport and level: ``conversations | turns/s | p50 | p95 | p99`` over the
turns sent after the ramp, and the CPU seconds each process of the stack (its whole
process tree, from /proc) spent per turn, so "where the cores went" comes with the table.

``--baseline-ref REF`` first measures a ``git worktree`` of REF (e.g. ``HEAD~3``) with the
same levels, then this checkout, in one run (one stack at a time). The worktree borrows
this checkout's KB index and widget unless it has its own, and its model when REF's chatbot/
trains the same one (otherwise it trains its own first, a few minutes).

Runs under either venv's Python; socket.io needs ``python-socketio`` and ``aiohttp``, which
``.venv-rasa`` has:

    .venv-rasa/bin/python bench/bench_chat_open.py                                  # ~5 min
    .venv-rasa/bin/python bench/bench_chat_open.py --baseline-ref HEAD~8 --transports rest
    .venv-rasa/bin/python bench/bench_chat_open.py --levels 10,200 --duration 30 --transports socketio
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
FOLLOW_UPS = ["and how long does that take?", "what if that doesn't work?", "can I do that in the app?",
              "is there a fee for that?", "ok, and where do I find that?", "does that work on my phone too?"]
SMALL_TALK = ["hi", "hello", "thanks", "thank you, that helps", "great, thanks!", "yes", "hi there"]
# a bigger KB search quota than a real visitor gets: every bench conversation comes from 127.0.0.1
STACK_ENV = {"CARE_RATE_LIMIT_KB_SEARCHES": "1000000", "CARE_RATE_LIMIT_LOOKUPS": "1000000"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def load_questions(root: Path) -> list[str]:
    path = root / "data" / "eval" / "kb_questions.jsonl"
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]


def script(rng: random.Random, questions: list[str], mix: str = "site") -> list[tuple[str, str]]:
    """One conversation: ``[(kind, text)]`` with kind kb / followup / smalltalk.

    ``mix``: "site" (the mix above), or only "kb" questions, or only "smalltalk" (to split a
    turn's cost by kind)."""
    if mix != "site":
        pool = questions if mix == "kb" else SMALL_TALK
        return [(mix, rng.choice(pool)) for _ in range(rng.randint(3, 7))]
    turns: list[tuple[str, str]] = []
    if rng.random() < 0.5:
        turns.append(("smalltalk", rng.choice(["hi", "hello", "hi there"])))
    turns.append(("kb", rng.choice(questions)))
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        if roll < 0.5:
            turns.append(("kb", rng.choice(questions)))
        elif roll < 0.75:
            turns.append(("followup", rng.choice(FOLLOW_UPS)))
        else:
            turns.append(("smalltalk", rng.choice(SMALL_TALK)))
    return turns[:7]


# ---- process CPU from /proc -------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_cpu_seconds(pid: int, tree: dict[int, list[int]]) -> float:
    """utime + stime of ``pid`` and its live descendants, plus their reaped children."""
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
        stack.extend(tree.get(current, []))
    return total


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    tree = _children()
    snapshot = {name: tree_cpu_seconds(pid, tree) for name, pid in pids.items()}
    snapshot["bench client"] = sum(os.times()[:2])
    return snapshot


# ---- the load ---------------------------------------------------------------------------

@dataclass
class Turn:
    kind: str
    sent: float
    latency: float
    ok: bool


@dataclass
class Level:
    conversations: int
    transport: str
    turns: list[Turn] = field(default_factory=list)
    window: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load: float = 0.0

    def measured(self, kind: str | None = None) -> list[float]:
        return [t.latency for t in self.turns if t.ok and (kind is None or t.kind == kind)]


class RestConversation:
    def __init__(self, http, rasa_url: str, secret: str, sender_token) -> None:  # type: ignore[no-untyped-def]
        self.http, self.url = http, f"{rasa_url}/webhooks/rest/webhook"
        self.sender = f"bench-{uuid.uuid4().hex}"
        self.token = sender_token(secret, self.sender)

    async def open(self) -> None:
        return None

    async def say(self, text: str, quiet: float) -> bool:
        async with self.http.post(self.url, json={"sender": self.sender, "token": self.token,
                                                  "message": text}) as reply:
            body = await reply.json(content_type=None)
            return reply.status == 200 and bool(body)

    async def close(self) -> None:
        return None


class SocketConversation:
    """The widget's way in: polling transport, a conversation id and token from the channel."""

    def __init__(self, http, rasa_url: str) -> None:  # type: ignore[no-untyped-def]
        import socketio

        self.url = rasa_url
        # the level's aiohttp session (closed once, at the end), not one per conversation
        self.client = socketio.AsyncClient(reconnection=False, http_session=http)
        self.replies: asyncio.Queue[float] = asyncio.Queue()
        self.confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.client.on("bot_uttered", self._bot_uttered)
        self.client.on("session_confirm", self._confirm)
        self.session_id = ""

    async def _bot_uttered(self, data) -> None:  # type: ignore[no-untyped-def]
        self.replies.put_nowait(time.perf_counter())

    async def _confirm(self, data) -> None:  # type: ignore[no-untyped-def]
        if not self.confirmed.done():
            self.confirmed.set_result(data)

    async def open(self) -> None:
        await self.client.connect(self.url, transports=["polling"], socketio_path="socket.io")
        await self.client.emit("session_request", {"session_id": None})
        confirm = await asyncio.wait_for(self.confirmed, 60)
        self.session_id = confirm["session_id"]
        assert confirm.get("token"), "the channel confirmed a conversation without a token"

    async def say(self, text: str, quiet: float) -> bool:
        while not self.replies.empty():
            self.replies.get_nowait()
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})
        last = await asyncio.wait_for(self.replies.get(), 60)
        while True:  # the rest of this turn's messages (answer, cards, "Did that solve it?")
            try:
                last = await asyncio.wait_for(self.replies.get(), quiet)
            except asyncio.TimeoutError:
                break
        self.last_reply = last
        return True

    async def close(self) -> None:
        await self.client.disconnect()


async def run_level(n: int, transport: str, args, stack: dict, questions: list[str], sender_token,
                    seed: int) -> Level:  # type: ignore[no-untyped-def]
    import aiohttp

    level = Level(n, transport)
    rng = random.Random(seed)
    loop_start = time.perf_counter()
    measure_from = loop_start + args.ramp
    end = measure_from + args.duration
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
        async def slot(i: int) -> None:
            slot_rng = random.Random(rng.random())
            await asyncio.sleep(args.ramp * i / n)
            while time.perf_counter() < end:
                if transport == "rest":
                    conversation = RestConversation(http, stack["rasa_url"], stack["chat_secret"], sender_token)
                else:
                    conversation = SocketConversation(http, stack["rasa_url"])
                try:
                    await conversation.open()
                    for kind, text in script(slot_rng, questions, args.mix):
                        if time.perf_counter() >= end:
                            break
                        sent = time.perf_counter()
                        try:
                            ok = await conversation.say(text, args.quiet)
                        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, AssertionError):
                            ok = False
                        done = getattr(conversation, "last_reply", None) or time.perf_counter()
                        if sent >= measure_from:
                            level.turns.append(Turn(kind, sent, done - sent, ok))
                        think = slot_rng.uniform(args.think_min, args.think_max)
                        await asyncio.sleep(max(0.0, think - (time.perf_counter() - done)))
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, Exception) as exc:  # noqa: BLE001
                    if time.perf_counter() >= measure_from:
                        level.turns.append(Turn("error", time.perf_counter(), 0.0, False))
                    print(f"  conversation failed: {exc!r}", file=sys.stderr)
                finally:
                    try:
                        await conversation.close()
                    except Exception:  # noqa: BLE001 - closing a broken client
                        pass

        before: dict[str, float] = {}

        async def snapshot_after_ramp() -> None:
            await asyncio.sleep(args.ramp)
            before.update(cpu_snapshot(stack["pids"]))

        await asyncio.gather(snapshot_after_ramp(), *(slot(i) for i in range(n)))
        after = cpu_snapshot(stack["pids"])
    level.window = args.duration
    level.load = os.getloadavg()[0]
    turns = max(1, len(level.measured()))
    level.cpu = {name: (after[name] - before.get(name, after[name])) / turns * 1000 for name in after}
    return level


# ---- stacks -----------------------------------------------------------------------------

def serve_stack(root: Path) -> None:
    """(subprocess) Start ``root``'s throwaway stack, print its URLs and pids, hold it until stdin closes."""
    sys.path.insert(0, str(root))
    from careops.ephemeral import missing_build_outputs, temporary_stack

    if missing_build_outputs():
        sys.exit("; ".join(missing_build_outputs()))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, temporary_stack(
            Path(tmp), demo_password="bench-password", extra_env=STACK_ENV,
            echo=lambda m: print(m, file=sys.stderr)) as (config, supervisor):
        print(json.dumps({"rasa_url": config.rasa_url, "chat_secret": config.chat_secret,
                          "start_s": round(time.perf_counter() - started, 1),
                          "pids": {n: c.pid for n, c in supervisor.children.items()}}), flush=True)
        sys.stdin.read()


def baseline_checkout(ref: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=HERE, check=True, capture_output=True,
                         text=True).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"care-baseline-{sha}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=HERE, check=True,
                       capture_output=True)
    for borrowed in (".venv", ".venv-rasa", "var/kb_index", "widget/dist"):
        target = path / borrowed
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to((HERE / borrowed).resolve())
    # The model is borrowed only when REF trains the same one: a model names its pipeline's
    # components (e.g. chatbot/care_intent_classifier.py), which an older checkout may lack.
    changed = subprocess.run(["git", "diff", "--quiet", sha, "--", "chatbot/config.yml", "chatbot/data",
                              "chatbot/domain.yml", "chatbot/care_*.py"], cwd=HERE).returncode
    model = path / "chatbot/models/care.tar.gz"
    if not changed and not (path / "chatbot/models").exists():
        (path / "chatbot/models").symlink_to((HERE / "chatbot/models").resolve())
    elif changed and not model.exists():
        print(f"note: {ref}'s chatbot/ differs from this checkout's; training its own model in {path} …",
              file=sys.stderr, flush=True)
        subprocess.run([str(path / ".venv-rasa/bin/rasa"), "train", "--fixed-model-name", "care", "--out",
                        "models", "--quiet"], cwd=path / "chatbot", check=True,
                       env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    return path


def measure(root: Path, label: str, args, questions, sender_token) -> list[Level]:  # type: ignore[no-untyped-def]
    child = subprocess.Popen([sys.executable, __file__, "--serve-stack", str(root)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        if not line:
            sys.exit(f"{label}: the stack did not start")
        stack = json.loads(line)
        print(f"{label}: stack up in {stack['start_s']} s ({root})", file=sys.stderr)
        levels = []
        for transport in args.transports.split(","):
            asyncio.run(warm_up(stack, sender_token))
            for n in (int(x) for x in args.levels.split(",")):
                level = asyncio.run(run_level(n, transport, args, stack, questions, sender_token, args.seed + n))
                print(f"  {label} {transport} {n}: {len(level.measured())} turns, "
                      f"p95 {percentile(level.measured(), 95) * 1000:.0f} ms, load {level.load:.1f}",
                      file=sys.stderr)
                levels.append(level)
        return levels
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=60)


async def warm_up(stack: dict, sender_token) -> None:  # type: ignore[no-untyped-def]
    import aiohttp

    async with aiohttp.ClientSession() as http:
        conversation = RestConversation(http, stack["rasa_url"], stack["chat_secret"], sender_token)
        for text in ("hello", "how do I reset my password", "thanks"):
            await conversation.say(text, 0)


def report(label: str, levels: list[Level]) -> None:
    for transport in dict.fromkeys(level.transport for level in levels):
        rows = [level for level in levels if level.transport == transport]
        print(f"\n{label}, {transport} (think 8–16 s, {rows[0].window:.0f} s per level after the ramp)\n")
        print("| conversations | turns/s | p50 | p95 | p99 | KB p50 | other p50 | errors | load |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for level in rows:
            every, kb = level.measured(), level.measured("kb")
            other = [t.latency for t in level.turns if t.ok and t.kind != "kb"]
            errors = sum(1 for t in level.turns if not t.ok)
            print(f"| {level.conversations} | {len(every) / level.window:.1f} "
                  f"| {percentile(every, 50) * 1000:.0f} ms | {percentile(every, 95) * 1000:.0f} ms "
                  f"| {percentile(every, 99) * 1000:.0f} ms | {percentile(kb, 50) * 1000:.0f} ms "
                  f"| {percentile(other, 50) * 1000:.0f} ms | {errors} | {level.load:.1f} |")
        names = list(rows[0].cpu)
        print(f"\nCPU ms per turn ({label}, {transport}): process tree of each")
        print("| conversations | " + " | ".join(names) + " | stack total |")
        print("| --- |" + " --- |" * (len(names) + 1))
        for level in rows:
            stack_total = sum(v for k, v in level.cpu.items() if k != "bench client")
            print(f"| {level.conversations} | " + " | ".join(f"{level.cpu[k]:.1f}" for k in names)
                  + f" | {stack_total:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="10,50,100,200,300", help="conversations at once, one run each")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds measured per level")
    parser.add_argument("--ramp", type=float, default=12.0, help="seconds over which a level's conversations arrive")
    parser.add_argument("--transports", default="rest,socketio", help="rest, socketio or both")
    parser.add_argument("--think-min", type=float, default=8.0)
    parser.add_argument("--think-max", type=float, default=16.0)
    parser.add_argument("--quiet", type=float, default=0.3, help="socket.io: a turn ends after this silence (s)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--mix", choices=["site", "kb", "smalltalk"], default="site",
                        help="the site's mix of messages, or only KB questions / only small talk")
    parser.add_argument("--baseline-ref", help="also measure this git ref (worktree), first, same levels")
    parser.add_argument("--serve-stack", metavar="ROOT",
                        help="only start ROOT's stack, print its JSON line (URLs, pids) and hold it "
                             "until stdin closes (for profiling: `sleep 1d | … --serve-stack . > stack.json`)")
    parser.add_argument("--attach", metavar="JSON", help="drive the stack that --serve-stack described")
    args = parser.parse_args()
    if args.serve_stack:
        serve_stack(Path(args.serve_stack))
        return
    sys.path.insert(0, str(HERE))
    from careops.conversations import sender_token

    questions = load_questions(HERE)
    print(f"cpus={os.cpu_count()} load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"levels={args.levels} duration={args.duration:.0f}s transports={args.transports}")
    results = []
    if args.attach:
        stack = json.loads(Path(args.attach).read_text())
        levels = []
        for transport in args.transports.split(","):
            levels += [asyncio.run(run_level(int(n), transport, args, stack, questions, sender_token,
                                             args.seed + int(n))) for n in args.levels.split(",")]
        report(f"the stack of {args.attach}", levels)
        return
    if args.baseline_ref:
        results.append((f"baseline {args.baseline_ref}", measure(baseline_checkout(args.baseline_ref),
                                                                 "baseline", args, questions, sender_token)))
    else:
        print("no --baseline-ref: the baseline is the table in issue 18 (REST, before this work)")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                          text=True).stdout.strip()
    results.append((f"this checkout ({head})", measure(HERE, "current", args, questions, sender_token)))
    for label, levels in results:
        report(label, levels)


if __name__ == "__main__":
    main()
