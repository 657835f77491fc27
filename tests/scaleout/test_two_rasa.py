"""Two `rasa run` processes serving the same conversations, as behind a load balancer.

Both load the same trained model and share the action server, a SQL tracker store on a
throwaway PostgreSQL database and a Redis lock store (the setting `make run` does not need
with one instance; see README.md, "Scale-out"). The lock store is ``AtomicRedisLockStore``
(chatbot/care_lock_store.py): Rasa 3.6's own ``type: redis`` store loses tickets when two instances
take messages of one conversation at the same moment, and then processes them at once (5 of
12 such bursts overlapped, 2 lost a user message; the atomic one: 0 of 12). The turns of one
conversation alternate between the instances over REST, and a burst of concurrent messages
to one sender hits both:

- the state carries over: the ticket form started on A asks B's next question, B's slot is
  known to A, and A cancels the form B was running;
- the burst is processed one message at a time (Rasa's ticket lock, held in Redis): the
  tracker has every message exactly once, each followed by its own answer before the next,
  and no two of its action calls ran at the same time. A proxy holds each call to the action
  server for a moment (``SlowActionProxy``), so the messages really are in flight together.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import create_engine, text

from careops.processes import StackConfig, free_port
from careops.supervisor import Supervisor

from ..databases import postgres_database
from .rasa_nodes import (SlowActionProxy, careops_process, check_model, rasa_process, rasa_url, say, tracker, turns,
                         write_endpoints)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 13  # db 0: the escalation fan-out; Rasa's default is 1
# questions (action_answer_from_kb: a call to the action server, which finds no escalation service
# and answers utter_kb_unavailable), from chatbot/data/nlu/questions.yml
QUESTIONS = ["how do I reset my password", "I forgot my password", "forgot password",
             "I can't remember my password", "password reset link not arriving",
             "the reset password email never came", "how can I change my password?", "how do I reset my password?"]
ACTION_DELAY = 0.5
LOCK_STORE = "care_lock_store.AtomicRedisLockStore"  # chatbot/care_lock_store.py, found from rasa's cwd


@dataclass
class TwoRasa:
    a: str
    b: str
    database_url: str
    redis: redis.Redis
    lock_prefix: str  # what RedisLockStore puts before a conversation id
    actions: SlowActionProxy

    def lock(self, sender: str) -> dict | None:
        raw = self.redis.get(self.lock_prefix + sender)
        return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def two_rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRasa]:
    if missing := check_model():
        pytest.fail("; ".join(missing) + " (make test does it).")
    base = tmp_path_factory.mktemp("two-rasa")
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc})")
    prefix = f"caretest{uuid.uuid4().hex[:8]}"  # RedisLockStore wants it alphanumeric
    with postgres_database() as database_url:
        config = StackConfig(escalation_port=free_port(), rasa_port=free_port(), actions_port=free_port(),
                             instance_dir=base / "instance", var_dir=base / "var")
        proxy = SlowActionProxy(config.actions_url, ACTION_DELAY)
        endpoints = write_endpoints(
            base / "endpoints.yml", actions_url=proxy.url, tracker_url=rasa_url(database_url),
            lock_store={"type": LOCK_STORE, "url": REDIS_HOST, "port": REDIS_PORT, "db": REDIS_DB,
                        "key_prefix": prefix})
        ports = {"rasa-a": config.rasa_port, "rasa-b": free_port()}
        supervisor = Supervisor(base / "log")
        try:
            supervisor.start(careops_process(config, "actions"))
            for name, port in ports.items():
                supervisor.start(rasa_process(config, name, port, endpoints))
            supervisor.wait_healthy()
            yield TwoRasa(*(f"http://127.0.0.1:{p}" for p in ports.values()), database_url, client,
                          f"{prefix}:lock:", proxy)
        finally:
            supervisor.stop()
            proxy.stop()
            from ..faults.conftest import keep_logs

            keep_logs("two-rasa", base / "log")
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
            client.close()


def test_a_conversation_alternating_between_instances_keeps_its_state(two_rasa: TwoRasa) -> None:
    sender = f"two-rasa-{uuid.uuid4().hex[:8]}"
    asked = say(two_rasa.a, sender, "I want to talk to a person")
    assert any("What name should I put on the ticket" in r for r in asked), asked

    # B continues the form A started: it validates the name and asks A's form's next question
    answered = say(two_rasa.b, sender, "Austin Employee")
    assert any("Thanks, Austin Employee" in r and "e-mail" in r for r in answered), answered

    state = tracker(two_rasa.a, sender)  # A knows what B did
    assert state["slots"]["customer_name"] == "Austin Employee"
    assert state["active_loop"]["name"] == "ticket_form"
    assert state["slots"]["requested_slot"] == "customer_email"

    cancelled = say(two_rasa.a, sender, "no")  # A cancels the form B was running
    assert any("won't open a ticket" in r for r in cancelled), cancelled
    final = tracker(two_rasa.b, sender)
    assert not final["active_loop"] or final["active_loop"].get("name") is None
    assert [text for event, text in turns(final["events"]) if event == "user"] == \
        ["I want to talk to a person", "Austin Employee", "no"]

    engine = create_engine(two_rasa.database_url)  # the shared store is PostgreSQL
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
    engine.dispose()
    assert stored == len(final["events"])


def test_concurrent_messages_on_both_instances_are_processed_one_at_a_time(two_rasa: TwoRasa) -> None:
    sender = f"burst-{uuid.uuid4().hex[:8]}"
    say(two_rasa.a, sender, "hi")  # the session starts once, before the burst
    replies: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(QUESTIONS))
    done = threading.Event()
    waiting: list[int] = []  # how many messages queued on the Redis lock, as seen while polling

    def send(i: int, message: str) -> None:
        try:
            start.wait()
            replies[message] = say(two_rasa.a if i % 2 == 0 else two_rasa.b, sender, message)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    def watch_lock() -> None:
        while not done.is_set():
            lock = two_rasa.lock(sender)
            if lock:
                waiting.append(len(lock.get("tickets", [])))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch_lock, daemon=True)
    watcher.start()
    senders = [threading.Thread(target=send, args=(i, m)) for i, m in enumerate(QUESTIONS)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=300)
    done.set()
    watcher.join(timeout=10)
    assert errors == [] and len(replies) == len(QUESTIONS), errors

    calls = two_rasa.actions.calls_for(sender)
    overlaps = [(a[1], b[1]) for a, b in zip(calls, calls[1:]) if b[2] < a[3]]
    print(f"\n[burst] {len(QUESTIONS)} concurrent messages; at most {max(waiting, default=0)} queued on the "
          f"Redis lock at once ({len(waiting)} samples); {len(calls)} action calls, {len(overlaps)} overlapping; "
          f"burst took {calls[-1][3] - calls[0][2]:.1f}s" if calls else "no action calls")
    # each request got its own answer
    for message, answer in replies.items():
        assert len(answer) == 1 and "can't reach our help centre" in answer[0], (message, answer)
    # both instances queued on one lock in Redis, and released it afterwards
    assert waiting and max(waiting) >= 2, waiting
    assert two_rasa.lock(sender) is None

    events = tracker(two_rasa.b, sender)["events"]
    steps = turns(events)
    users = [text for event, text in steps if event == "user"]
    assert Counter(users) == Counter(["hi", *QUESTIONS])  # none lost, none twice
    # one at a time: every message is answered, and the bot listens again, before the next
    for position, (event, _text) in enumerate(steps):
        if event != "user":
            continue
        rest = steps[position + 1:]
        listen = rest.index(("action", "action_listen"))
        assert [e for e, _ in rest[:listen]].count("user") == 0, steps
        assert [e for e, _ in rest[:listen]].count("bot") == 1, steps
    assert len(calls) == len(QUESTIONS) and overlaps == [], calls  # never two of its messages at once
    engine = create_engine(two_rasa.database_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
    engine.dispose()
    assert stored == len(events)
