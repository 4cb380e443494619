"""The re-check just before a plan runs, as one decision (invariant 2). Pure.

bot/shell/deploy/recheck.py reads the facts under the lock (the deploy history, the
quarantine entries, the tags read again, or why they could not be read) and asks
``recheck``, which weighs them in this order:

1. The tags could not be read again: refused, not remade (nothing to remake it from).
2. The live state changed (``bot.core.policy.live.check_live_state``): refused and made
   again from what is live now, for a fresh approval.
3. The plan's commit was quarantined after it was approved, under any name
   (``bot.core.policy.quarantine.refusal_of``): refused, not remade.
4. The bot's own rollback after a failed verification (``failed``) no longer undoes that
   deploy (``bot.core.policy.supersession.still_undoes``): refused.

The bot's own rollback is never remade, whatever stopped it: it was for the version that
failed, and that version is no longer what is live.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.core.policy.approval import Allowed
from bot.core.policy.live import check_live_state
from bot.core.policy.quarantine import refusal_of
from bot.core.policy.supersession import still_undoes
from bot.core.thread.plan import DeployRecord, Plan, Quarantined, Tag
from bot.core.wording.deploys import recheck_tags_unreadable

__all__ = ["Drifted", "recheck"]


class Drifted(BaseModel):
    """The plan does not run: ``reason`` says why; ``remake``: plan it again from the tags
    read now (a new plan hash, so no old approval counts)."""

    model_config = ConfigDict(frozen=True)

    reason: str
    remake: bool


def recheck(
    plan: Plan,
    *,
    history: Sequence[DeployRecord],
    quarantined: Mapping[str, Quarantined],
    tags: Sequence[Tag] | None,
    tags_error: str = "",
    failed: Plan | None = None,
    now: datetime,
) -> Allowed | Drifted:
    """Whether ``plan`` may run now. ``tags`` None: they could not be read (``tags_error``
    says why); ``failed``: the deploy whose failed verification this rollback undoes."""
    if tags is None:
        return Drifted(reason=recheck_tags_unreadable(plan.service, tags_error), remake=False)
    verdict = check_live_state(plan, history=list(history), tags=list(tags), now=now)
    remake = failed is None
    if not isinstance(verdict, Allowed):
        return Drifted(reason=verdict.reason, remake=remake)
    refusal = refusal_of(plan, quarantined, tags=tags, history=history)
    if refusal is not None:
        return Drifted(reason=refusal, remake=False)
    if failed is not None and not isinstance(undoes := still_undoes(plan, failed), Allowed):
        return Drifted(reason=undoes.reason, remake=False)
    return Allowed()
