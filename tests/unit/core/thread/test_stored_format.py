"""A thread saved by the code before the bot/core, bot/shell, bot/app layout (issue 11)
loads in the code after it: the stored format (z2) and the event shapes did not change with
the move. The fixture was written once, by that older code, and is never regenerated."""

import base64
from pathlib import Path

from bot.core.thread.events import DecisionReceived, PlanProposed, VerificationFinished
from bot.shell.store.codec import decode_thread

FIXTURE = Path(__file__).resolve().parents[2] / "golden" / "thread_before_layout.b64"


def test_a_thread_saved_before_the_move_loads_after_it() -> None:
    thread = decode_thread(base64.b64decode(FIXTURE.read_text()), version=12)
    assert thread.id == "c0ffee-layout"
    assert thread.version == 12
    assert len(thread.events) == 20
    assert thread.status == "failed"  # its verification failed
    plans = [e for e in thread.events if isinstance(e, PlanProposed)]
    assert plans[-1].plan.plan_hash == "cf18b24b56d47d5f"  # the hash an approval is bound to
    assert plans[-1].evidence is not None
    assert plans[-1].evidence.commits[0].subject == "fix login timeout"
    [click] = [e for e in thread.events if isinstance(e, DecisionReceived)]
    assert click.plan_hash == "cf18b24b56d47d5f"
    assert isinstance(thread.events[-1], VerificationFinished)
    assert thread.open_approval() is None
