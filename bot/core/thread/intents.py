"""What an agent may choose next: a closed, discriminated set of structured outputs.

The models here are the shapes; which of them an agent may use, and the enums for service
and environment, come from the agent and the config (see ``agents/toolset.py``). Whatever
chose an intent, policy decides whether it is inside the config before anything
acts on it (``bot.core.policy.approval.check_scope``).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.text.outside import Line, Text

__all__ = [
    "GRAMMAR_ONLY",
    "VERSION_PATTERN",
    "AskHuman",
    "Deploy",
    "Done",
    "Intent",
    "ListDeploys",
    "ListTags",
    "Rollback",
]

#: A version (a tag name) a person or the model can ask for; tags named otherwise are not
#: offered (bot/shell/world/tags.py): their names could not be typed, or would not show as they are.
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+/-]{0,99}$"


def _unset(value: object) -> bool:
    return value is None


class _Intent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListTags(_Intent):
    """Look up the newest release tags of a service (and the commits they point at)."""

    intent: Literal["list_tags"] = "list_tags"
    service: str


class ListDeploys(_Intent):
    """Look up the recent deploys of a service in one environment."""

    intent: Literal["list_deploys"] = "list_deploys"
    service: str
    environment: str


class Deploy(_Intent):
    """Propose deploying a version (a tag) of a service to an environment.

    Leave ``version`` empty for the newest tag. Approval policy is applied by the bot.
    """

    intent: Literal["deploy"] = "deploy"
    service: str
    environment: str
    version: Annotated[str, Field(pattern=VERSION_PATTERN)] | None = None
    # Release policy (bot.core.release.promotion, bot.core.release.freezes): set only by the
    # command grammar's exact suffixes, never by the model (GRAMMAR_ONLY).
    # Left out of the stored thread when unset: ordinary deploys store the bytes they did.
    when_ready: bool = Field(default=False, exclude_if=lambda v: not v)  # "... when ready"
    skip_soak: Line | None = Field(default=None, exclude_if=_unset)  # "... skip soak <reason>"
    break_glass: Line | None = Field(default=None, exclude_if=_unset)  # "... break glass <r>"


#: Deploy fields only an exact command may set: the model's tools do not offer them and a
#: tool call that names them is invalid (agents/toolset.py), so no phrasing the model reads
#: ever skips a soak or breaks a freeze (invariant 9).
GRAMMAR_ONLY = frozenset({"when_ready", "skip_soak", "break_glass"})


class Rollback(_Intent):
    """Propose rolling a service in an environment back to an earlier version.

    Leave ``version`` empty for the last version that deployed successfully before the
    current one.
    """

    intent: Literal["rollback"] = "rollback"
    service: str
    environment: str
    version: Annotated[str, Field(pattern=VERSION_PATTERN)] | None = None


class AskHuman(_Intent):
    """Ask the people in the thread a question and wait for their answer."""

    intent: Literal["ask_human"] = "ask_human"
    message: Text = Field(min_length=1, max_length=2000)


class Done(_Intent):
    """Say a final word; the thread is finished."""

    intent: Literal["done"] = "done"
    message: Text = Field(min_length=1, max_length=2000)


Intent = Annotated[
    ListTags | ListDeploys | Deploy | Rollback | AskHuman | Done,
    Field(discriminator="intent"),
]
