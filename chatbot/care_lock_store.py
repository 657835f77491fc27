"""A Redis lock store for Rasa 3.6 whose ticket operations are atomic, for several ``rasa run``
instances serving the same conversations (``chatbot/endpoints.yml``:
``lock_store: type: care_lock_store.AtomicRedisLockStore``; ``rasa run`` started in chatbot/
finds this module, as it puts its working directory on sys.path).

Rasa 3.6's own ``RedisLockStore`` changes a conversation's ticket lock with a GET, a change in
Python and a SET. Two instances receiving messages of one conversation at the same moment can
both read the same lock and both save it: one ticket is lost or two messages get the same
number, and then two messages of the conversation are processed at once — the SQL tracker
store keeps only one of their event lists (a one-off run of the bursts of
tests/scaleout/test_two_rasa.py against it showed overlapping turns in 5 of 12 bursts of 8
messages, and lost user messages in 2). Its ``cleanup`` can also
delete a lock another instance has just queued on. Here every read-change-write is one Redis
transaction (WATCH/MULTI/EXEC, retried when another instance changed the lock meanwhile).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _atomically(self, conversation_id: str,
                    change: Callable[[Optional[TicketLock]], tuple[T, Optional[TicketLock]]]) -> T:
        """Apply ``change`` (lock or None -> result, new lock or None to delete) in one transaction."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw: Any = pipe.get(key)
                    result, lock = change(TicketLock.from_dict(json.loads(raw)) if raw else None)
                    pipe.multi()
                    if lock is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, lock.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another instance changed the lock between our read and write

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: Optional[TicketLock]) -> tuple[int, TicketLock]:
            lock = lock or self.create_lock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            return self._atomically(conversation_id, change)
        except Exception as exc:  # noqa: BLE001 — the same contract as the base class
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: Optional[TicketLock]) -> tuple[None, Optional[TicketLock]]:
            if lock is not None:
                lock.remove_expired_tickets()
            return None, lock

        self._atomically(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def change(lock: Optional[TicketLock]) -> tuple[None, Optional[TicketLock]]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return None, lock

        self._atomically(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish this ticket and delete the lock only if nobody queued meanwhile: one step."""
        def change(lock: Optional[TicketLock]) -> tuple[None, Optional[TicketLock]]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return None, lock if lock.is_someone_waiting() else None

        self._atomically(conversation_id, change)
