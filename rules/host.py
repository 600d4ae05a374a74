"""A durable-rules host made safe for a batch job.

The guards answer the defects measured in notes/durable-rules.md:
* no background threads (they crash ``delete_state``): consequences run inside ``post``;
* one live session at a time, deleted after use (1,024-session limit, 32-bit sid hashes);
* every event names its subject and consequences refuse another subject (hash collisions);
* swallowed exceptions, unhandled and pending events all fail the session loudly ("tainted").
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from durable.engine import Host, MessageNotHandledException, MessageObservedException


class RulesError(Exception):
    """The rules could not decide cleanly: nothing of this evaluation may be recorded."""


class QuietHost(Host):
    """A Host without the background dispatch threads."""

    def _run(self) -> None:
        """Start no threads: consequences then run synchronously inside post()."""


class Session:
    """One subject's session on one ruleset; use through RuleHost.session()."""

    def __init__(self, host: QuietHost, ruleset: str, sid: str, subject: str) -> None:
        self._host = host
        self._ruleset = ruleset
        self.sid = sid
        self.subject = subject
        self.touched = False
        self._nonce = itertools.count(1)

    def _stamp(self, message: dict[str, Any]) -> dict[str, Any]:
        return {**message, "sid": self.sid, "subject": self.subject}

    def assert_fact(self, fact: dict[str, Any]) -> None:
        """Assert a fact; a distinct fact refused as a duplicate (hash clash) is re-salted."""
        self.touched = True
        message = self._stamp(fact)
        for _ in range(5):
            try:
                self._host.assert_fact(self._ruleset, message)
                break
            except MessageObservedException:
                message = {**message, "nonce": next(self._nonce)}
            except MessageNotHandledException:
                break  # a fact no rule needs yet is fine; it is stored all the same
        else:
            raise RulesError(f"fact refused repeatedly as a duplicate: {fact}")
        self._check()

    def post(self, event: dict[str, Any]) -> None:
        """Post an event; it must be handled, and no consequence may have failed."""
        self.touched = True
        message = self._stamp(event)
        for _ in range(5):
            try:
                self._host.post(self._ruleset, message)
                break
            except MessageObservedException:
                message = {**message, "nonce": next(self._nonce)}
            except MessageNotHandledException:
                raise RulesError(f"no rule handled event {event}") from None
        else:
            raise RulesError(f"event refused repeatedly as a duplicate: {event}")
        self._check()

    def state(self) -> dict[str, Any]:
        """Return the session's state as the rules left it."""
        state: dict[str, Any] = self._host.get_state(self._ruleset, self.sid)
        return state

    def _check(self) -> None:
        state = self.state()
        if "exception" in state:
            raise RulesError(f"a rule failed for {self.subject}: {state['exception']}")
        if state.get("subject") != self.subject:
            raise RulesError(f"session {self.sid} holds {state.get('subject')}, expected {self.subject}")

    def finish(self) -> dict[str, Any]:
        """Check nothing waits half-matched and return the final state."""
        pending = self._host.get_pending_events(self._ruleset, self.sid)
        if pending:
            raise RulesError(f"events left unmatched for {self.subject}: {pending}")
        self._check()
        return self.state()


_HOST: QuietHost | None = None
#: The C core is not thread-safe and keeps one live session: threads (the web server's) take turns.
_TURN = threading.RLock()


def _shared_host() -> QuietHost:
    global _HOST
    if _HOST is None:
        _HOST = QuietHost()
    return _HOST


class RuleHost:
    """Owns a QuietHost and its rulesets; hands out one session at a time."""

    def __init__(self, definitions: dict[str, dict[str, Any]]) -> None:
        self._host = _shared_host()
        self._host.register_rulesets(definitions)
        self._live: str | None = None

    @contextmanager
    def session(self, ruleset: str, subject: str, state: dict[str, Any]) -> Iterator[Session]:
        """Open a fresh session for one subject and always delete it afterwards."""
        with _TURN:
            if self._live is not None:
                raise RulesError(f"session for {self._live} still live; sessions must not overlap")
            sid = "1"  # one live session at a time, so one sid: no hash can collide with another
            self._live = subject
            session = Session(self._host, ruleset, sid, subject)
            try:
                self._host.update_state(ruleset, {**state, "sid": sid, "subject": subject})
                yield session
            finally:
                try:
                    # delete_state on a session that never received a message crashes the C core
                    # (SIGSEGV) when the ruleset has never seen one; such a session holds no facts,
                    # and the next update_state replaces its state whole.
                    if session.touched:
                        self._host.delete_state(ruleset, sid)
                finally:
                    self._live = None
