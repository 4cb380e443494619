"""Each port (a Protocol in bot/core/ports) is satisfied by the class the wiring hands to the
channels and agents: every member is there, async where the port's is, with the port's
parameters (by name, kind and type) and return type; anything more is optional. (An
agent's ``name`` attribute is checked by mypy where the wiring builds the agents.)

mypy checks the same statically where the wiring builds ``ChannelPorts``
(``bot.shell.streams.channel_ports``); this table says it again, one row per port, so a
renamed parameter fails here by name.
"""

import inspect
import typing
from collections.abc import Callable
from typing import Any, Protocol

import pytest

from agents.claude_agent import ClaudeAgent
from agents.fallback import CommandsOnlyAgent
from bot.core.ports.agent import Agent
from bot.core.ports.audit import Refusals, SetAsideLog
from bot.core.ports.channel_state import MailState, SlackState
from bot.core.ports.health import Health
from bot.core.ports.inbound import Inbound
from bot.core.ports.outbound import Sender
from bot.core.ports.outbox import Notices, Replies
from bot.core.ports.threads import Threads
from bot.shell.runtime.tasks import TaskHandle
from bot.shell.store.channel_state import RedisMailState, RedisSlackState
from bot.shell.streams.channel_threads import ChannelThreads
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.outbox import Outbox
from bot.shell.streams.refusals import MailRefusals
from bot.shell.streams.set_aside import SetAsideInputs
from channels.email.sender import EmailSender
from channels.slack.sender import SlackSender
from channels.terminal import TerminalChannel

PORTS: list[tuple[type, type]] = [
    (Inbound, InboundQueue),
    (Threads, ChannelThreads),
    (Notices, Outbox),
    (Replies, Outbox),
    (SetAsideLog, SetAsideInputs),
    (Refusals, MailRefusals),
    (Health, TaskHandle),
    (SlackState, RedisSlackState),
    (MailState, RedisMailState),
    (Sender, SlackSender),
    (Sender, EmailSender),
    (Sender, TerminalChannel),
    (Agent, ClaudeAgent),
    (Agent, CommandsOnlyAgent),
]


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _members(port: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(port).items()
        if not name.startswith("_") and callable(value)
    }


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    return typing.get_type_hints(function)


def mismatches(port: type, implementer: type) -> list[str]:
    """What ``implementer`` lacks to satisfy ``port`` (empty: it does)."""
    found: list[str] = []
    for name, want in _members(port).items():
        got = getattr(implementer, name, None)
        if got is None:
            found.append(f"{name}: missing")
            continue
        if inspect.iscoroutinefunction(want) != inspect.iscoroutinefunction(got):
            found.append(f"{name}: async differs")
        wanted, have = inspect.signature(want).parameters, inspect.signature(got).parameters
        want_hints, got_hints = _hints(want), _hints(got)
        for pname, param in wanted.items():
            if pname == "self":
                continue
            mine = have.get(pname)
            if mine is None:
                found.append(f"{name}({pname}): missing")
            elif param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and mine.kind in (
                inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.POSITIONAL_ONLY,
            ):
                found.append(f"{name}({pname}): not passable as the port passes it")
            elif want_hints.get(pname) != got_hints.get(pname):
                found.append(f"{name}({pname}): {got_hints.get(pname)} != {want_hints.get(pname)}")
        for pname, param in have.items():
            optional = param.default is not inspect.Parameter.empty or param.kind in _VARIADIC
            if pname not in wanted and not optional:
                found.append(f"{name}({pname}): required, but the port never passes it")
        if want_hints.get("return") != got_hints.get("return"):
            found.append(
                f"{name}: returns {got_hints.get('return')}, not {want_hints.get('return')}"
            )
    return found


@pytest.mark.parametrize(
    ("port", "implementer"), PORTS, ids=[f"{p.__name__}-{i.__name__}" for p, i in PORTS]
)
def test_the_wired_class_satisfies_its_port(port: type, implementer: type) -> None:
    assert _members(port), f"{port.__name__} has no members"  # the table checks something
    assert mismatches(port, implementer) == []


class _Port(Protocol):
    async def publish(self, envelope: str, *, at: int) -> str: ...


class _Renamed:
    async def publish(self, entry: str, *, at: int) -> str:
        return entry


class _Blocking:
    def publish(self, envelope: str, *, at: int) -> str:
        return envelope


class _Demanding:
    async def publish(self, envelope: str, *, at: int, why: str) -> str:
        return envelope


class _OtherType:
    async def publish(self, envelope: bytes, *, at: int) -> str:
        return "x"


class _Nothing:
    pass


@pytest.mark.parametrize(
    ("implementer", "problem"),
    [
        (_Renamed, "publish(envelope): missing"),
        (_Blocking, "publish: async differs"),
        (_Demanding, "publish(why): required, but the port never passes it"),
        (_OtherType, "publish(envelope): <class 'bytes'> != <class 'str'>"),
        (_Nothing, "publish: missing"),
    ],
)
def test_a_class_that_does_not_fit_a_port_is_named(implementer: type, problem: str) -> None:
    assert problem in mismatches(_Port, implementer)
