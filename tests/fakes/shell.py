"""In-memory stand-ins for a shell part's dependencies, for direct unit tests of one part.

The stores are the real classes over an in-process Redis (fakeredis runs the same Lua
scripts: compare-and-set on a thread's version, the idempotency claim, the fenced lock), so
they behave as in production; what reaches outside the process is faked here: the deployer
(records each call, answers as scripted), the repository's tags and the checks' verdict.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import fakeredis

from bot.core.config.config import Config, parse_config
from bot.core.policy.supersession import Superseded
from bot.core.policy.verification import Verified, VerifyFailed
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.plan import DeployRecord, Lineage, Plan, Tag
from bot.shell.runtime.clock import Clock
from bot.shell.world.context import Context, Limits
from tests.context import context_over

__all__ = [
    "CONFIG",
    "FakeDeployer",
    "FakeLookups",
    "FakeVerifier",
    "TickingClock",
    "fake_context",
]

CONFIG = """
[people.alice]
slack = "U0ALICE"

[people.carol]
slack = "U0CAROL"

[services.backend]
repo = "/nowhere/backend"
deploy = ["./deploy.sh", "{version}"]
environments = ["staging", "production"]
status = ["./status.sh", "{idempotency_key}"]

[environments.staging]
approval = false
verify_s = 60
checks = [{ command = ["./smoke.sh"] }]

[environments.production]
approval = true
approvers = ["alice"]
"""


class TickingClock:
    """A clock one second further on at every reading; ids ``e0``, ``e1``, ..."""

    def __init__(self, start: datetime = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)) -> None:
        self._at = start
        self._ids: Iterator[int] = count()

    def now(self) -> datetime:
        self._at += timedelta(seconds=1)
        return self._at

    def new_id(self) -> str:
        return f"e{next(self._ids)}"

    def clock(self) -> Clock:
        return Clock(now=self.now, new_id=self.new_id)


def fake_context(
    config: Config | None = None, *, limits: Limits | None = None
) -> tuple[Context, TickingClock]:
    """Every store on one in-process Redis; a ticking clock. Short limits: nothing waits."""
    ticking = TickingClock()
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    context = context_over(
        redis,
        "unit",
        config or parse_config(CONFIG, base_dir=Path("/nowhere")),
        clock=ticking.clock(),
        limits=limits or Limits(lock_ttl_ms=3000, lock_wait_s=0, progress_every_s=60),
    )
    return context, ticking


@dataclass
class DeployerCall:
    kind: str  # "run" or "status"
    plan: Plan
    idempotency_key: str
    fencing_token: int


@dataclass
class FakeDeployer:
    """Stands in for ``bot.shell.deploy.targets.Deployers`` (and its ``commands``): records
    each call; ``run`` answers ``result`` (or raises it), ``status`` answers ``status``."""

    result: DeployResult | OutcomeUnknown | BaseException = field(
        default_factory=lambda: DeployResult(
            result="succeeded", exit_code=0, duration_s=1.0, output_tail="live"
        )
    )
    status_answer: DeployResult | OutcomeUnknown | None = None
    on_github: bool = False
    calls: list[DeployerCall] = field(default_factory=list)

    @property
    def commands(self) -> "FakeDeployer":
        return self

    @property
    def runs(self) -> list[DeployerCall]:
        return [c for c in self.calls if c.kind == "run"]

    def runs_on_github(self, plan: Plan) -> bool:
        return self.on_github

    async def run(
        self, *, plan: Plan, idempotency_key: str, fencing_token: int, **_: object
    ) -> DeployResult | OutcomeUnknown:
        self.calls.append(DeployerCall("run", plan, idempotency_key, fencing_token))
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    async def status(
        self, *, plan: Plan, idempotency_key: str, fencing_token: int, **_: object
    ) -> DeployResult | OutcomeUnknown | None:
        self.calls.append(DeployerCall("status", plan, idempotency_key, fencing_token))
        return self.status_answer


@dataclass
class FakeLookups:
    """The repository's tags as the re-check reads them (never cached), or ``error`` when
    it does not answer; no lineage."""

    tags: list[Tag]
    error: Exception | None = None
    reads: int = 0

    async def fresh_tags(self, service: str) -> list[Tag]:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return list(self.tags)

    async def repo_tags(self, service: str) -> list[Tag]:
        return await self.fresh_tags(service)

    async def lineage_for(
        self,
        intent: Deploy | Rollback,
        *,
        tags: list[Tag],
        history: list[DeployRecord],
        quarantined: object,
    ) -> Lineage | None:
        return None


@dataclass
class FakeVerifier:
    """Stands in for ``bot.shell.verify.checks.Verifier``: asks ``still_current`` once (as
    the real one does before each round), then gives ``outcome``."""

    outcome: Verified | VerifyFailed
    progress: Sequence[str] = ()
    asked: int = 0

    async def verify(
        self, plan: Plan, *, still_current: object = None, on_progress: object = None, **_: object
    ) -> Verified | VerifyFailed | Superseded:
        self.asked += 1
        for text in self.progress:
            await on_progress(text)  # type: ignore[operator]
        if still_current is not None and (gone := await still_current()) is not None:  # type: ignore[operator]
            return gone  # type: ignore[no-any-return]
        return self.outcome
