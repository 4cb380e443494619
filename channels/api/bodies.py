"""The HTTP API's bodies: what clients send and what they get back.

Requests are validated by these models and the OpenAPI schema is generated from them, so the
two cannot disagree. Errors are ``{"error": "..."}`` with a message that names the field.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from bot.core.thread.events import Event
from bot.core.thread.origin import Origin
from bot.core.thread.plan import Evidence, Plan
from bot.core.thread.thread import Status

from .waiting import QueueView

__all__ = [
    "ApiError",
    "ApprovalResume",
    "CancelResume",
    "EventAccepted",
    "LaunchRequest",
    "MessageResume",
    "PendingApproval",
    "ResumeBody",
    "ResumeRequest",
    "ThreadCreated",
    "ThreadView",
    "WebhookAccepted",
    "describe_errors",
    "parse_resume",
    "parse_webhook_fields",
]

_User = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="Who is speaking: a name from the config's [people] (e.g. carol).",
    ),
]
_Text = Annotated[
    str, Field(min_length=1, max_length=4000, json_schema_extra={"pattern": r"[^ \t\r\n]"})
]
_PlanHash = Annotated[str, Field(min_length=16, max_length=64, pattern=r"^[0-9a-f]+$")]
# One line with something in it and no '?' (the grammar defers any text holding one).
_REASON_PATTERN = r"^[^?\x00-\x1f\x7f]*[^?\x00-\x20\x7f][^?\x00-\x1f\x7f]*$"
_Reason = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": _REASON_PATTERN}),
]
_PLAIN_REASON = (
    " It must also read as a plain reason: no word of negation, condition or hedging (not, "
    "don't, if, unless, when, maybe, ...), no symbol, and no 'and'/'or' at either end; "
    "otherwise 422 and nothing is launched."
)


_BLANK = " \t\r\n"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("text", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # The same rule as the schema's pattern, so a schema-valid text is never refused.
        if not value.strip(_BLANK):
            raise ValueError("must contain more than spaces and line breaks")
        return value


class LaunchRequest(_Request):
    """``POST /v1/threads``: start a thread with a request in words.

    Release policy's fields (``when_ready``, ``skip_soak``, ``break_glass``) are only for a
    deploy command in ``text`` with no suffix of its own: the edge appends their words and
    launches only if the grammar reads exactly them back."""

    text: _Text = Field(examples=["deploy backend v1.4.2 to production"])
    user: _User
    when_ready: bool = Field(
        default=False,
        strict=True,  # true or false: "yes" or 1 are not what the schema says
        description="Wait until release policy (promotion order, soak) allows the deploy, "
        "then plan it: the same as ending text with 'when ready'. Not with skip_soak or "
        "break_glass.",
    )
    skip_soak: _Reason | None = Field(
        default=None,
        description="Override the soak, with this reason (audited, shown to the approvers): "
        "the same as ending text with 'skip soak <reason>'. Only people the environment's "
        "soak_override_by names may; approvals still apply." + _PLAIN_REASON,
        examples=["INC-7 hotfix"],
    )
    break_glass: _Reason | None = Field(
        default=None,
        description="Deploy inside a freeze, with this reason (audited, shown to the "
        "approvers): the same as ending text with 'break glass <reason>'. Only people the "
        "freeze's break_glass names may; approvals still apply." + _PLAIN_REASON,
        examples=["checkout outage"],
    )

    @field_validator("skip_soak", "break_glass")
    @classmethod
    def _one_plain_line(cls, value: str | None) -> str | None:
        # The schema's pattern, and what the grammar reads: printable, one line, no '?'.
        if value is None:
            return None
        if "?" in value:
            raise ValueError("must not contain '?'")
        if not value.isprintable() or not value.strip():
            raise ValueError("must be one line of printable characters")
        return value


class ApprovalResume(_Request):
    """Approve or reject the plan the thread is waiting on."""

    type: Literal["approval"]
    decision: Literal["approve", "reject"]
    user: _User
    plan_hash: _PlanHash = Field(
        description="The plan being decided: approval.plan_hash from GET /v1/threads/{id}. "
        "A decision counts only for the plan its author was shown: if the thread now "
        "waits on another plan, the answer is 409 and nothing is decided.",
    )
    reason: str | None = Field(
        default=None,
        max_length=300,
        description="Why, recorded with a rejection (an approval keeps none). Without "
        "'?'; line breaks and other non-printable characters become spaces.",
        json_schema_extra={"pattern": "^[^?]*$"},
    )

    @field_validator("reason")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        """One line, kept with the rejection in the thread and the audit."""
        if value is None:
            return None
        if "?" in value:
            raise ValueError("must not contain '?'")
        value = " ".join("".join(c if c.isprintable() else " " for c in value).split())
        return value if value.rstrip(".!").strip() else None


class MessageResume(_Request):
    """Say something in the thread, as that person would in chat."""

    type: Literal["message"]
    text: _Text
    user: _User


class CancelResume(_Request):
    """Leave the queue: the thread's plan waiting in line, or its wait for the soak or a
    freeze. Said in the thread as ``cancel [plan id]`` by ``user``."""

    type: Literal["cancel"]
    user: _User
    plan_hash: _PlanHash | None = Field(
        default=None,
        description="The plan to take out of the line: queue.plan_hash from GET "
        "/v1/threads/{id}. Optional; when given and it is not the plan waiting in line "
        "(none is while the deploy waits for its soak or a freeze), the answer is 409 and "
        "nothing is cancelled.",
    )


ResumeRequest = Annotated[
    ApprovalResume | MessageResume | CancelResume, Field(discriminator="type")
]
ResumeBody = ApprovalResume | MessageResume | CancelResume

_RESUME_TAGS = ("approval", "message", "cancel")
_RESUME: TypeAdapter[ResumeBody] = TypeAdapter(ResumeRequest)
_FIELDS: TypeAdapter[dict[str, JsonValue]] = TypeAdapter(dict[str, JsonValue])


def parse_resume(raw: bytes) -> ResumeBody:
    """Raises ``ValidationError``; see ``describe_errors``."""
    return _RESUME.validate_json(raw)


def parse_webhook_fields(raw: bytes) -> dict[str, JsonValue]:
    """A webhook's body: a JSON object (an empty body counts as ``{}``)."""
    return _FIELDS.validate_json(raw) if raw.strip() else {}


def describe_errors(exc: ValidationError, *, limit: int = 5) -> str:
    """One line naming each wrong field (never echoing the input back)."""
    parts = []
    for err in exc.errors(include_input=False)[:limit]:
        path = err["loc"]
        if len(path) > 1 and path[0] in _RESUME_TAGS:
            path = path[1:]  # the union member's tag: not a field the client sent
        loc = ".".join(str(p) for p in path)
        match err["type"]:
            case "json_invalid":
                msg = "the body is not valid JSON"
                loc = ""
            case "union_tag_not_found" | "union_tag_invalid":
                msg = "type: must be 'approval', 'message' or 'cancel'"
            case "model_type" | "model_attributes_type" | "dict_type" if not loc:
                msg = "the body must be a JSON object"
            case "missing":
                msg = f"{loc}: required"
                loc = ""
            case "extra_forbidden":
                msg = f"{loc}: unknown field"
                loc = ""
            case _:
                msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


# -- responses -------------------------------------------------------------------------------


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


class ApiError(_Response):
    error: str


class ThreadCreated(_Response):
    id: str
    status: Status = Field(description="Right after a launch: 'running'. Poll the thread.")


class WebhookAccepted(_Response):
    id: str
    status: Status
    duplicate: bool = Field(
        description="True when this exact signed body was received before: no new thread."
    )


class EventAccepted(_Response):
    id: str = Field(description="The thread's id.")
    event_id: str
    status: Status


class PendingApproval(_Response):
    """The plan a thread is waiting on, so a client can show it before deciding."""

    plan_hash: str
    plan: Plan
    approvers: list[str]
    min_approvals: int
    approved_by: list[str]
    expires_at: datetime
    evidence: Evidence | None = Field(
        default=None,
        description="What the approver is shown beside the plan, gathered from git and the "
        "GitHub API (never from model text): live version, requester, commit range, CI.",
    )


class ThreadView(_Response):
    id: str
    status: Status
    origin: Origin
    agent: Literal["deploy", "rollback"]
    created_at: datetime
    approval: PendingApproval | None = Field(
        description="The open approval request, if the thread is waiting on one."
    )
    queue: QueueView | None = Field(
        default=None,
        description="What a queued thread waits for (status 'queued'): its place in the "
        "pair's line, or when release policy lets it be planned; null otherwise.",
    )
    events: list[Event]
