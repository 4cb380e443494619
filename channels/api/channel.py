"""The HTTP API channel: launch, query and resume threads over ``/v1``; signed webhooks.

Edge rules: authenticate first (``edge``), validate the body, publish the inbound event
durably, answer. Nothing here advances a thread: the worker does, so a client polls
``GET /v1/threads/{id}``.
"""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Literal, assert_never

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.config.config import Config
from bot.core.ports.channel_ports import ChannelPorts
from bot.core.ports.inbound import Envelope, agent_for
from bot.core.thread.events import DecisionReceived, UserMessage, WebhookReceived
from bot.core.thread.origin import ApiOrigin, ScheduleOrigin
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread

from .auth import SIGNATURE_HEADER, signature_problem
from .bodies import (
    EventAccepted,
    LaunchRequest,
    PendingApproval,
    ThreadCreated,
    ThreadView,
    WebhookAccepted,
    describe_errors,
    parse_resume,
    parse_webhook_fields,
)
from .edge import (
    MAX_BODY_BYTES,
    Handler,
    Problem,
    answer,
    check_json_body,
    guard,
    read_body,
    read_json_body,
)
from .launch import LaunchError, launch_text
from .openapi import THREAD_ID_PATTERN, openapi_document
from .resume import (
    Accept,
    AcceptDecision,
    Conflict,
    Forbidden,
    Invalid,
    api_person,
    check_resume,
)
from .waiting import queue_view
from .webhook import InstructionError, delivery_thread_id, fill_instruction

__all__ = ["MAX_BODY_BYTES", "ApiChannel"]

_THREAD_ID = re.compile(THREAD_ID_PATTERN)


class ApiChannel:
    def __init__(
        self,
        *,
        config: Config,
        ports: ChannelPorts,
        api_token: str | None,
        webhook_secret: str | None,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
    ) -> None:
        self._set_aside = ports.set_aside
        self._config = config
        self._inbound = ports.inbound
        self._threads = ports.threads
        self._api_token = api_token or None
        self._webhook_secret = webhook_secret or None
        self._clock = clock
        self._new_id = new_id
        self._openapi = openapi_document()

    def routes(self) -> list[BaseRoute]:
        def guarded(handler: Handler, auth: Literal["bearer", "signature"]) -> Handler:
            return guard(
                handler,
                auth=auth,
                api_token=self._api_token,
                set_aside=self._set_aside,
                clock=self._clock,
            )

        return [
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/v1/threads", guarded(self.launch, "bearer"), methods=["POST"]),
            Route("/v1/threads/{id}", guarded(self.show, "bearer"), methods=["GET"]),
            Route("/v1/threads/{id}/events", guarded(self.resume, "bearer"), methods=["POST"]),
            Route("/v1/webhooks/{name}", guarded(self.webhook, "signature"), methods=["POST"]),
        ]

    async def _thread(self, request: Request) -> Thread:
        thread_id = str(request.path_params["id"])
        thread = await self._threads.load(thread_id) if _THREAD_ID.fullmatch(thread_id) else None
        if thread is None:
            raise Problem(404, f"no thread {thread_id[:128]!r}")
        return thread

    @staticmethod
    def _first_envelope(thread: Thread) -> Envelope:
        return Envelope(
            thread_id=thread.id, event=thread.events[0], origin=thread.origin, agent=thread.agent
        )

    # -- routes --------------------------------------------------------------------------

    async def openapi(self, _request: Request) -> Response:
        return JSONResponse(self._openapi)

    async def launch(self, request: Request) -> Response:
        try:
            body = LaunchRequest.model_validate_json(await read_json_body(request))
        except ValidationError as exc:
            raise Problem(422, describe_errors(exc)) from None
        person = api_person(self._config, body.user)
        if person is None:
            raise Problem(
                403,
                f"{body.user!r} is not in deploybot's [people]; only people listed in the "
                "config may start threads.",
            )
        try:
            text = launch_text(body=body, config=self._config)
        except LaunchError as exc:
            raise Problem(422, str(exc)) from None
        event = UserMessage(
            id=self._new_id(), at=self._clock(), actor=Actor.of("api", person), text=text
        )
        thread = Thread(
            id=self._new_id(),
            origin=ApiOrigin(),
            agent=agent_for(text),
            created_at=event.at,
            events=[event],
        )
        if not await self._threads.start(thread):
            raise Problem(503, "thread id already taken (should not happen); try again")
        return answer(
            ThreadCreated(id=thread.id, status=thread.status),
            201,
            location=f"/v1/threads/{thread.id}",
        )

    async def show(self, request: Request) -> Response:
        thread = await self._thread(request)
        open_approval = thread.open_approval()
        pending = None
        if open_approval is not None:
            req = open_approval.request
            pending = PendingApproval(
                plan_hash=req.plan_hash,
                plan=open_approval.plan,
                approvers=req.approvers,
                min_approvals=req.min_approvals,
                approved_by=open_approval.approved_by,
                expires_at=req.expires_at,
                evidence=thread.evidence_of(req.plan_hash),
            )
        view = ThreadView(
            id=thread.id,
            status=thread.status,
            origin=thread.origin,
            agent=thread.agent,
            created_at=thread.created_at,
            approval=pending,
            queue=queue_view(thread),
            events=thread.events,
        )
        return answer(view, 200)

    async def resume(self, request: Request) -> Response:
        try:
            body = parse_resume(await read_json_body(request))
        except ValidationError as exc:
            raise Problem(422, describe_errors(exc)) from None
        thread = await self._thread(request)
        verdict = check_resume(thread=thread, body=body, config=self._config, now=self._clock())
        match verdict:
            case Conflict(reason=why):
                raise Problem(409, why)
            case Forbidden(reason=why):
                raise Problem(403, why)
            case Invalid(reason=why):
                raise Problem(422, why)
            case Accept(actor=actor, text=text):
                event: UserMessage | DecisionReceived = UserMessage(
                    id=self._new_id(), at=self._clock(), actor=actor, text=text
                )
                await self._inbound.publish(Envelope(thread_id=thread.id, event=event))
                accepted = EventAccepted(id=thread.id, event_id=event.id, status="running")
                return answer(accepted, 202)
            case AcceptDecision(actor=actor, decision=decision, plan_hash=plan_hash):
                event = DecisionReceived(
                    id=self._new_id(),
                    at=self._clock(),
                    actor=actor,
                    decision=decision,
                    plan_hash=plan_hash,
                    reason=verdict.reason,
                )
                await self._inbound.publish(Envelope(thread_id=thread.id, event=event))
                accepted = EventAccepted(id=thread.id, event_id=event.id, status="running")
                return answer(accepted, 202)
            case _:
                assert_never(verdict)

    async def webhook(self, request: Request) -> Response:
        if self._webhook_secret is None:
            raise Problem(503, "webhooks are off: DEPLOYBOT_WEBHOOK_SECRET is not set")
        raw = await read_body(request, sender_known=False)
        problem = signature_problem(
            request.headers.get(SIGNATURE_HEADER), body=raw, secret=self._webhook_secret
        )
        if problem is not None:
            raise Problem(401, problem)
        check_json_body(raw)  # signed: a body nested too deeply is set aside
        name = str(request.path_params["name"])
        hook = self._config.webhooks.get(name)
        if hook is None:
            known = ", ".join(sorted(self._config.webhooks)) or "none"
            raise Problem(404, f"no webhook named {name[:64]!r} (configured: {known})")
        try:
            instruction = fill_instruction(hook.instruction, parse_webhook_fields(raw))
        except ValidationError:
            raise Problem(422, "the body must be a JSON object (or empty)") from None
        except InstructionError as exc:
            raise Problem(422, str(exc)) from None
        thread_id = delivery_thread_id(name, raw)
        event = WebhookReceived(
            id=f"{thread_id}:received", at=self._clock(), name=name, instruction=instruction
        )
        thread = Thread(
            id=thread_id,
            # Machine-started, like a schedule: replies and approval requests go to report_to.
            origin=ScheduleOrigin(name=f"webhook:{name}", report_to=hook.report_to),
            agent=agent_for(instruction),
            created_at=event.at,
            events=[event],
        )
        location = f"/v1/threads/{thread_id}"
        if await self._threads.start(thread):
            accepted = WebhookAccepted(id=thread_id, status=thread.status, duplicate=False)
            return answer(accepted, 201, location=location)
        existing = await self._threads.load(thread_id)
        if existing is None:  # threads are never deleted; only if someone did by hand
            raise Problem(503, "the delivery's thread vanished; try again")
        if existing.version == 1:
            # Created but maybe never published (the first try failed in between): publish
            # again. Harmless if it was: the worker knows the event id.
            await self._inbound.publish(self._first_envelope(existing))
        duplicate = WebhookAccepted(id=thread_id, status=existing.status, duplicate=True)
        return answer(duplicate, 200, location=location)
