"""The deterministic fast path: exact ChatOps commands, parsed without a model call.

``parse_command`` never guesses. When it is not sure it returns ``None`` and the text goes to
the model: a deferral is harmless, a wrong parse (the wrong environment, say) is an incident.

Accepted, with keywords and service/environment names case-insensitive (names are returned as
configured), versions kept as typed, surrounding whitespace, one leading ``@deploybot`` or
Slack ``<@U123ABC>`` mention and one trailing ``.`` or ``!`` tolerated::

    deploy|ship SERVICE [VERSION] to ENV [SUFFIX]   rollback|roll back SERVICE in ENV [to VERSION]
    deploy|ship SERVICE@VERSION to ENV [SUFFIX]     deploys SERVICE in ENV
    deploy|ship VERSION of SERVICE to ENV [SUFFIX]  where can i deploy SERVICE[?]
    approve | approved | approve [#]PLAN_ID    reject|deny [REASON]   (words: ``vocabulary``)
    lock ENV [REASON] | unlock ENV             status | help | ?
    release SERVICE VERSION in ENV [REASON]    cancel | cancel [#]PLAN_ID

    SUFFIX (release policy, ``suffixes``):  when ready | skip soak REASON | break glass REASON
                                            | skip soak REASON break glass REASON (either order)

Everything else is deferred, notably: extra or missing words (``rollback backend production``
needs its ``in``), unknown names and abbreviations (``prod``), non-versions (``latest``), a
``?`` anywhere except bare ``?`` and ``where ...?``, several lines or control characters,
non-ASCII command words, text over 500 characters, and a lock reason that names an
environment or starts with a conjunction (``lock production and staging``). A reason is free
text (it may say "not"); it is kept as typed, trimmed, and ``None`` when empty.

A deploy suffix is stricter, because it overrides release policy (invariant 9): anything
between the command and the suffix's phrase, inexact words (``skipping soak``, ``break the
glass``), a phrase said twice, ``when ready`` with anything else, a missing reason, and a
reason holding a word of negation, condition or hedging (``don't``, ``if``, ``unless``,
``when``, ``later``, ...) defer the whole command: no phrasing sets an override by accident.
"""

import functools
import re
from collections.abc import Collection

from bot.core.reading.commands import (
    ApproveCommand,
    CancelCommand,
    Command,
    DeployCommand,
    DeploysCommand,
    HelpCommand,
    LockCommand,
    RejectCommand,
    ReleaseCommand,
    RollbackCommand,
    StatusCommand,
    UnlockCommand,
    WhereCommand,
)
from bot.core.reading.suffixes import read_suffixes
from bot.core.reading.vocabulary import APPROVE, decision_of, rollback_words

__all__ = ["parse_command"]

_MAX_LEN = 500
_MENTION = re.compile(r"(?:<@[A-Z0-9]+(?:\|[^>]*)?>|@deploybot)[:,]?(?:\s+|$)", re.IGNORECASE)
_VERSION = re.compile(r"(?:[vV][0-9][A-Za-z0-9._+/-]{0,98}|[0-9][A-Za-z0-9._+/-]{0,99})")
_PLAN_ID = re.compile(r"#?([0-9a-f]{4,16})")
_NOT_A_WORD = "\x00"  # what a non-ASCII word is keyed as: it equals no keyword and no name
_CONJUNCTIONS = {"and", "or", "&", "+", "plus", "then"}


class _Names:
    """Configured names looked up case-insensitively, indexed on the first lookup: most
    commands (``approve``, ``reject``, ``status``) name no service or environment, and an
    index of a thousand services is most of a parse's time."""

    __slots__ = ("_index", "_names")

    def __init__(self, names: Collection[str]) -> None:
        self._names = names
        self._index: dict[str, str] | None = None

    def _get(self) -> dict[str, str]:
        if self._index is None:
            self._index = _index_of(tuple(self._names))
        return self._index

    def __contains__(self, key: str) -> bool:
        return key in self._get()

    def __getitem__(self, key: str) -> str:
        return self._get()[key]


@functools.lru_cache(maxsize=64)
def _index_of(names: tuple[str, ...]) -> dict[str, str]:
    """Lower-cased name -> configured name; names that clash when lower-cased are left out.

    Cached: the names come from the config, which does not change while the bot runs.
    Callers must not modify the returned dict."""
    out: dict[str, str] = {}
    clashes: set[str] = set()
    for name in names:
        key = name.lower()
        if key in out and out[key] != name:
            clashes.add(key)
        out[key] = name
    return {key: name for key, name in out.items() if key not in clashes}


def _version(word: str) -> str | None:
    return word if _VERSION.fullmatch(word) and word[-1].isalnum() else None


def _rest(body: str, skip: int) -> str | None:
    """The free text after the first ``skip`` words, as typed, or None if there is none."""
    parts = body.split(None, skip)
    rest = parts[skip].strip() if len(parts) > skip else ""
    return rest if rest.rstrip(".!").strip() else None


def parse_command(
    text: str, *, services: Collection[str], environments: Collection[str]
) -> Command | None:
    """The command ``text`` states exactly, or None when not sure (see the module docstring)."""
    if len(text) > _MAX_LEN:
        return None
    body = text.strip()
    if mention := _MENTION.match(body):
        body = body[mention.end() :].strip()
    if not body or not body.isprintable():
        return None
    core = body[:-1].rstrip() if body.endswith((".", "!")) else body
    if core == "?":
        return HelpCommand()
    question = core.endswith("?")
    if question:
        core = core[:-1].rstrip()
    if "?" in core:
        return None
    words = core.split()
    keys = [w.lower() if w.isascii() else _NOT_A_WORD for w in words]
    svc, env = _Names(services), _Names(environments)
    if question:
        match keys:
            case ["where", "can", "i", "deploy", s] if s in svc:
                return WhereCommand(service=svc[s])
        return None

    match keys:
        case ["status"]:
            return StatusCommand()
        case ["help"]:
            return HelpCommand()
        case [word] if decision_of(word) == "approve":
            return ApproveCommand()
        case [word, _] if word == APPROVE:
            plan = _PLAN_ID.fullmatch(words[1])
            return ApproveCommand(plan_id=plan.group(1)) if plan else None
        case [word, first, *_] if (
            decision_of(word) == "reject"
            and first.startswith("#")
            and (plan := _PLAN_ID.fullmatch(words[1]))
        ):
            return RejectCommand(plan_id=plan[1], reason=_rest(body, 2))
        case [word, *_] if decision_of(word) == "reject":
            return RejectCommand(reason=_rest(body, 1))
        case ["lock", e, *_] if e in env:
            reason = _rest(body, 2)
            if reason is not None:
                said = [w.strip(".,;:!()\"'").lower() for w in reason.split()]
                if said[0] in _CONJUNCTIONS or any(w in env for w in said):
                    return None
            return LockCommand(environment=env[e], reason=reason)
        case ["cancel"]:
            return CancelCommand()
        case ["cancel", _]:
            plan = _PLAN_ID.fullmatch(words[1])
            return CancelCommand(plan_id=plan[1]) if plan else None
        case ["unlock", e] if e in env:
            return UnlockCommand(environment=env[e])
        case ["where", "can", "i", "deploy", s] if s in svc:
            return WhereCommand(service=svc[s])
        case ["deploys", s, "in", e] if s in svc and e in env:
            return DeploysCommand(service=svc[s], environment=env[e])
        case ["release", s, _, "in", e, *_] if (
            s in svc and e in env and (version := _version(words[2]))
        ):
            return ReleaseCommand(
                service=svc[s], version=version, environment=env[e], reason=_rest(body, 5)
            )
        case ["deploy" | "ship", *_]:
            return _deploy(words[1:], keys[1:], svc, env)
        case _ if skip := rollback_words(keys):
            return _rollback(words[skip:], keys[skip:], svc, env)
    return None


def _deploy(words: list[str], keys: list[str], svc: _Names, env: _Names) -> DeployCommand | None:
    """A deploy: its target in the first 3, 4 or 5 words (exactly one of them), then its suffix."""
    found = [
        (size, target)
        for size in (3, 4, 5)
        if len(keys) >= size and (target := _target(words[:size], keys[:size], svc, env))
    ]
    if len(found) != 1:
        return None
    size, (service, environment, version) = found[0]
    suffixes = read_suffixes(words[size:])
    if suffixes is None:
        return None
    return DeployCommand(
        service=service,
        environment=environment,
        version=version,
        when_ready=suffixes.when_ready,
        skip_soak=suffixes.skip_soak,
        break_glass=suffixes.break_glass,
    )


def _target(
    words: list[str], keys: list[str], svc: _Names, env: _Names
) -> tuple[str, str, str | None] | None:
    """(service, environment, version) when ``words`` are exactly a deploy's target."""
    typed: str | None  # the version as typed, if the command names one
    match keys:
        case [s, "to", e] if "@" not in s:
            typed = None
        case [s, "to", e]:
            name, _, typed = words[0].partition("@")
            s = name.lower() if name.isascii() else _NOT_A_WORD
        case [s, _, "to", e]:
            typed = words[1]
        case [_, "of", s, "to", e]:
            typed = words[0]
        case _:
            return None
    version = None if typed is None else _version(typed)
    if s not in svc or e not in env or (typed is not None and version is None):
        return None
    return svc[s], env[e], version


def _rollback(
    words: list[str], keys: list[str], svc: _Names, env: _Names
) -> RollbackCommand | None:
    match keys:
        case [s, "in", e] if s in svc and e in env:
            return RollbackCommand(service=svc[s], environment=env[e])
        case [s, "in", e, "to", _] if s in svc and e in env and (version := _version(words[4])):
            return RollbackCommand(service=svc[s], environment=env[e], version=version)
    return None
