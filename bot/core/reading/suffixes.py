"""What may follow a complete deploy command: release policy's suffixes (invariant 9). Pure.

``deploy backend v1.4.2 to production`` may end with::

    when ready                              queue it until the soak allows it
    skip soak REASON                        override the soak
    break glass REASON                      deploy inside a freeze
    skip soak REASON [,|and] break glass REASON   (either order): both, each with its reason

Only the command grammar sets these (the model cannot), and it sets one only when it is said
plainly, so no phrasing sets an override by accident. ``read_suffixes`` returns ``None``
(defer) unless:

- the suffix opens with its phrase, right after the command: anything in between
  (``, don't skip soak``, ``and skip soak``, ``never skip soak``, ``no skip soak``) defers;
- the words are exact: ``skipping soak``, ``break the glass``, ``skip soak:`` defer;
- each phrase is said at most once, and ``when ready`` is the whole suffix;
- every reason has a letter or a digit, does not start or end with a conjunction (``and``,
  ``or``, ``then``, ``but``, ...), and has no word of negation, condition, hedging or
  retraction anywhere in it (``HEDGES``: not, don't, never, if, unless, when, maybe, later,
  instead, cancel, ...; and ``in case``) nor a symbol (an emoji may say "no" unwritten):
  ``break glass if the freeze is on`` and ``skip soak hotfix, not yet`` defer. Such a
  reason has to be reworded: deferred text goes to the model, which cannot override
  anything, so the deploy is planned under the policy as it stands.

Reasons are returned as typed (words joined by one space; a separator before the second
phrase, ``,`` ``;`` ``and`` ``&``, is not part of the first reason).
"""

import re
import unicodedata
from collections.abc import Sequence
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["CONJUNCTIONS", "HEDGES", "HEDGE_PHRASES", "DeploySuffixes", "read_suffixes"]

#: Words that start or end no reason (a reason that does is a second clause, not a reason).
CONJUNCTIONS: Final = frozenset({"and", "or", "&", "+", "plus", "then", "but", "nor"})

_NEGATIONS = (
    "not nt no nope never nor neither none nothing nobody nowhere without non cannot "
    "dont cant wont isnt arent wasnt werent doesnt didnt hasnt havent hadnt shouldnt "
    "wouldnt couldnt mustnt neednt aint shant mightnt darent"
)
_CONDITIONS = (
    "if iff unless when whenever once until till til after before provided providing "
    "assuming suppose supposing whether otherwise else except pending needed necessary either"
)
_HEDGES = (
    "maybe perhaps possibly probably might may could would should shall later eventually "
    "someday sometime yet instead rather hypothetically ideally unsure"
)
_RETRACTIONS = "cancel abort stop undo nevermind ignore scratch wait hold jk kidding joking"
# A few of other languages: people write to the bot in more than English.
_ELSEWHERE = (
    "nicht kein keine keinen nie niemals nein ohne falls wenn "  # German
    "pas sans jamais si sinon "  # French
    "sin nunca"  # Spanish
)

#: Words that make a reason not plain: a reason holding one defers (compared lower-cased,
#: NFKC-normalised, with apostrophes dropped: "don't" and "don\u2019t" are ``dont``).
HEDGES: Final = frozenset(
    " ".join((_NEGATIONS, _CONDITIONS, _HEDGES, _RETRACTIONS, _ELSEWHERE)).split()
)
#: Conditions of more than one word (their words are ordinary alone).
HEDGE_PHRASES: Final = frozenset({("in", "case"), ("in", "the", "event")})

_APOSTROPHES = re.compile("['\u2018\u2019\u201b\u02bc\u02b9\u02bb\u0060\u00b4\u2032\uff07]")
_WORD = re.compile(r"[^\W_]+")  # letters and digits, in any script
_SEPARATORS = frozenset({"and", "&"})
_NOT_A_WORD = "\x00"  # a non-ASCII word never spells a phrase

_Override = Literal["skip_soak", "break_glass"]
_PHRASES: Final[dict[tuple[str, str], _Override]] = {
    ("skip", "soak"): "skip_soak",
    ("break", "glass"): "break_glass",
}


class DeploySuffixes(BaseModel):
    """What a deploy command's suffix asks for; all unset when there is no suffix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    when_ready: bool = False
    skip_soak: str | None = None
    break_glass: str | None = None


def read_suffixes(words: Sequence[str]) -> DeploySuffixes | None:
    """The suffixes ``words`` (as typed, after the deploy command) state; None: not sure."""
    keys = [w.lower() if w.isascii() else _NOT_A_WORD for w in words]
    if not keys:
        return DeploySuffixes()
    if keys == ["when", "ready"]:
        return DeploySuffixes(when_ready=True)
    starts = [i for i in range(len(keys) - 1) if (keys[i], keys[i + 1]) in _PHRASES]
    if not starts or starts[0] != 0:
        return None
    said: dict[_Override, str] = {}
    for n, start in enumerate(starts):
        more = n + 1 < len(starts)
        end = starts[n + 1] if more else len(words)
        override = _PHRASES[(keys[start], keys[start + 1])]
        reason = _reason(words[start + 2 : end], before_phrase=more)
        if reason is None or override in said:
            return None
        said[override] = reason
    return DeploySuffixes(skip_soak=said.get("skip_soak"), break_glass=said.get("break_glass"))


def _reason(words: Sequence[str], *, before_phrase: bool) -> str | None:
    """The reason ``words`` give, or None when there is none or it is not plain."""
    if before_phrase and words and words[-1].lower() in _SEPARATORS:
        words = words[:-1]
    text = " ".join(words)
    if before_phrase:
        text = text.removesuffix(",").removesuffix(";").rstrip()
    ends = [w.strip(".,;:!()[]{}\"'").lower() for w in text.split()[:1] + text.split()[-1:]]
    if not ends or any(end in CONJUNCTIONS for end in ends):
        return None
    plain = unicodedata.normalize("NFKC", text).lower().replace("w/o", " without ")
    if any(unicodedata.category(c) == "So" for c in plain):
        return None  # a thumbs-down, a cross
    tokens = _WORD.findall(_APOSTROPHES.sub("", plain))
    if not tokens or any(token in HEDGES for token in tokens):
        return None
    for phrase in HEDGE_PHRASES:
        width = len(phrase)
        if any(tuple(tokens[i : i + width]) == phrase for i in range(len(tokens) - width + 1)):
            return None
    return text
