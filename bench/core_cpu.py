"""Benchmark: CPU of the pure core per operation, before vs after, side by side in one run.

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/core_cpu.py --before REF [--iterations 2000]

Protocol:

1. Build real threads with this checkout: the real worker (``bot.app.bootstrap``) on real
   Redis (``DEPLOYBOT_TEST_REDIS_URL``, a key prefix of its own, deleted after), a scripted
   agent and a real deploy script in a temporary folder. One launch ("please ship backend to
   production": prefetch, the agent chooses the deploy, plan, approval request) and one
   approve+deploy ("approve" from alice: decision, lock, deploy, result). Every call the
   worker makes to ``next_step`` is recorded (the thread as stored by the codec, ``now``),
   with the phase it belongs to; so are the paused thread (after the launch) and the done
   thread (after the deploy), as stored.
   With ``--unicode``, the newest tag's commit subject and the request are not ASCII (what
   misses ``clean``'s fast path).
2. ``git worktree add`` REF (``--before``; default: HEAD) in a temporary folder.
3. Measure the same recorded bytes in two subprocesses, ``PYTHONPATH`` set to the worktree
   ("before") and to this checkout ("after"), each timing with ``time.process_time`` over
   ``--iterations`` rounds, the rounds of both sides interleaved in ``--rounds`` passes
   (noise on a shared machine hits both alike). Operations: decode (validate) the paused and
   the done thread (the done one also with the core's memos emptied first: a first load),
   encode both, every ``next_step`` of the launch turn and of the approve turn on the
   recorded threads (each decoded once, outside the timing), ``derive_status`` of both, and
   a "turn" of each phase: decode every recorded thread of it, then its next_step.
4. Print a table: microseconds per operation, before, after, before/after.

Failures: the worker not reaching the expected state (paused after the launch, done after
the deploy) raises ``SystemExit`` with what it saw; a subprocess that fails prints its
stderr and stops the run. The worktree and the Redis keys are removed in every case.
"""

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_TEXT = "please ship backend to production"


# -- 1. the recording (this checkout) -----------------------------------------------------


async def _record(base: Path, *, unicode: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DEPLOYBOT_RUN_COMMANDS_AS_ROOT", "true")
    from redis.asyncio import Redis

    import bot.shell.loop.turn as turn
    from bot.core.thread.intents import Deploy
    from bot.shell.store.codec import encode_thread
    from tests.conftest import mark_intact
    from tests.support import (
        Clock,
        ScriptedAgent,
        add_tag,
        make_app,
        say,
        thread_of,
        write_setup,
    )

    config = write_setup(base)
    if unicode:  # a newer tag whose subject is not ASCII, and a request that is not either
        add_tag(base / "repos" / "backend", "v1.5.0", "Zoë: Suche beschleunigt — 修正 ✅")
    url = os.environ.get("DEPLOYBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    redis = Redis.from_url(url)
    prefix = f"bench-core-cpu-{os.getpid()}"
    mark_intact(prefix, url=url)  # a running installation: no new one's quiet period
    agent = ScriptedAgent([Deploy(service="backend", environment="production")])
    app = make_app(redis, prefix=prefix, config_file=config, agent=agent, clock=Clock())
    calls: list[dict[str, Any]] = []
    phase = ["launch"]
    real = vars(turn)["next_step"]

    def recording(thread: Any, **kw: Any) -> Any:
        calls.append(
            {
                "phase": phase[0],
                "stored": base64.b64encode(encode_thread(thread)).decode(),
                "version": thread.version,
                "now": kw["now"].isoformat(),
            }
        )
        return real(thread, **kw)

    setattr(turn, "next_step", recording)  # noqa: B010 - the worker's own name for it
    try:
        text = LAUNCH_TEXT + (" — danke, Zoë ✅" if unicode else "")
        await say(app, "bench-t1", "slack:U0CAROL", text, new=True)
        await app.worker.run_until_idle()
        paused = await thread_of(app, "bench-t1")
        if paused.status != "awaiting_approval":
            raise SystemExit(f"after the launch: {paused.status}, {paused.events}")
        phase[0] = "approve"
        await say(app, "bench-t1", "slack:U0ALICE", "approve")
        await app.worker.run_until_idle()
        done = await thread_of(app, "bench-t1")
        if done.status != "done":
            raise SystemExit(f"after the deploy: {done.status}, {done.events}")
    finally:
        setattr(turn, "next_step", real)  # noqa: B010
        await app.close()
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    stored = lambda t: base64.b64encode(encode_thread(t)).decode()  # noqa: E731
    return {
        "config": str(config),
        "paused": {"stored": stored(paused), "version": paused.version},
        "done": {"stored": stored(done), "version": done.version},
        "calls": calls,
    }


# -- 3. the measuring side (a subprocess, bot imported from PYTHONPATH) ---------------------


def _measure(fixture: Path, iterations: int) -> dict[str, float]:
    from datetime import datetime

    import bot
    from bot.core.config.config import parse_config
    from bot.core.loop.next_step import next_step
    from bot.core.thread.text import outside
    from bot.core.thread.thread import derive_status
    from bot.core.wording import evidence
    from bot.shell.store.codec import decode_thread, encode_thread

    data = json.loads(fixture.read_text())
    config_path = Path(data["config"])
    config = parse_config(config_path.read_text(), base_dir=config_path.parent)
    ids = count()
    new_id: Callable[[], str] = lambda: f"b{next(ids)}"  # noqa: E731

    def blob(d: dict[str, Any]) -> tuple[bytes, int]:
        return base64.b64decode(d["stored"]), int(d["version"])

    paused_b, paused_v = blob(data["paused"])
    done_b, done_v = blob(data["done"])
    paused = decode_thread(paused_b, version=paused_v)
    done = decode_thread(done_b, version=done_v)
    turns: dict[str, list[tuple[bytes, int, datetime]]] = {"launch": [], "approve": []}
    for c in data["calls"]:
        b, v = blob(c)
        turns[c["phase"]].append((b, v, datetime.fromisoformat(c["now"])))
    decoded = {
        p: [(decode_thread(b, version=v), now) for b, v, now in calls] for p, calls in turns.items()
    }

    def steps(phase: str) -> Callable[[], object]:
        return lambda: [
            next_step(t, config=config, now=now, new_id=new_id) for t, now in decoded[phase]
        ]

    def turn(phase: str) -> Callable[[], object]:
        def run() -> object:
            for b, v, now in turns[phase]:
                next_step(decode_thread(b, version=v), config=config, now=now, new_id=new_id)
            return None

        return run

    memos = [getattr(m, "_remembered", None) for m in (outside, evidence)]

    def cold_decode() -> object:
        for memo in memos:  # the memos that exist on this side, emptied: a first load
            if memo is not None:
                memo.cache_clear()
        return decode_thread(done_b, version=done_v)

    ops: dict[str, Callable[[], object]] = {
        "decode paused": lambda: decode_thread(paused_b, version=paused_v),
        "decode done": lambda: decode_thread(done_b, version=done_v),
        "decode done, memos cold": cold_decode,
        "encode paused": lambda: encode_thread(paused),
        "encode done": lambda: encode_thread(done),
        f"next_step launch ({len(turns['launch'])} calls)": steps("launch"),
        f"next_step approve ({len(turns['approve'])} calls)": steps("approve"),
        "derive_status paused": lambda: derive_status(paused.events),
        "derive_status done": lambda: derive_status(done.events),
        "turn launch: decode+next_step": turn("launch"),
        "turn approve: decode+next_step": turn("approve"),
    }
    out: dict[str, float] = {"_module": 0.0}
    print(bot.__file__, file=sys.stderr)
    for name, op in ops.items():
        op()  # warm
        start = time.process_time()
        for _ in range(iterations):
            op()
        out[name] = (time.process_time() - start) / iterations * 1e6
    return out


# -- 2 and 4: the worktree, the subprocesses, the table ------------------------------------


def _side(src: Path, fixture: Path, iterations: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, __file__, "--measure", str(fixture), "--iterations", str(iterations)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=src, check=False)  # noqa: S603
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the measurement under {src} failed")
    where = done.stderr.strip().splitlines()[-1]
    if not where.startswith(str(src)):
        raise SystemExit(f"{src}: imported bot from {where}")
    return dict(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD", help="the commit to compare against")
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes per side")
    parser.add_argument(
        "--unicode", action="store_true", help="outside texts that are not ASCII (no fast path)"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(_measure(args.measure, args.iterations)))
        return
    with tempfile.TemporaryDirectory(prefix="core-cpu-") as tmp:
        base = Path(tmp)
        (base / "setup").mkdir()
        fixture = base / "fixture.json"
        fixture.write_text(json.dumps(asyncio.run(_record(base / "setup", unicode=args.unicode))))
        tree = base / "before"
        git = ["git", "-C", str(ROOT)]
        add = [*git, "worktree", "add", "--detach", str(tree), args.before]
        subprocess.run(add, check=True, capture_output=True)  # noqa: S603 - fixed argv
        try:
            runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for _ in range(args.rounds):
                runs["before"].append(_side(tree, fixture, args.iterations))
                runs["after"].append(_side(ROOT, fixture, args.iterations))
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)  # noqa: S603
    _table(runs, before=args.before, iterations=args.iterations, unicode=args.unicode)


def _table(
    runs: dict[str, list[dict[str, float]]], *, before: str, iterations: int, unicode: bool
) -> None:
    names = [n for n in runs["after"][0] if not n.startswith("_")]
    best = {s: {n: min(r[n] for r in rs) for n in names} for s, rs in runs.items()}
    print(f"CPU per operation, us (best of {len(runs['after'])} rounds x {iterations} iterations,")
    texts = "; outside texts not ASCII" if unicode else ""
    print(f"time.process_time; before = {before}, after = this checkout{texts})\n")
    width = max(len(n) for n in names)
    print(f"{'operation':<{width}}  {'before':>9}  {'after':>9}  {'ratio':>6}")
    for n in names:
        b, a = best["before"][n], best["after"][n]
        print(f"{n:<{width}}  {b:>9.1f}  {a:>9.1f}  {b / a:>5.2f}x")


if __name__ == "__main__":
    main()
