"""Benchmark: N deploy threads through launch -> approval -> deploy, deploybot vs LangGraph.

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/threads.py [--threads N] [--services K] [--redis-url URL]
        [--count-deploys] [--baseline auto|postgres|sqlite|none] [--profile FILE]

(a) deploybot on real Redis with exactly one worker process (``bench/_worker.py``) and a
    zero-latency scripted agent. Each thread: a free-text launch from ``api:carol`` ("please
    ship <service> to production": prefetch of tags and history, the agent proposes
    ``Deploy(<service>, production)``, a plan, an approval request; the thread pauses), then
    ``approve`` from ``api:alice`` (approval recorded, environment lock, write-ahead
    ``deploy_started``, the deploy command, ``deploy_finished``, the result message).
    By default every thread deploys ``backend`` to production, so invariant 4 (one deploy
    at a time per service and environment) makes the deploys queue on that one lock. With
    ``--services K`` the threads go round-robin over K services (``backend-0000`` ...), so
    threads in flight together rarely share a lock: that measures the pipeline itself.
(b) the baseline: a LangGraph graph plan -> approval (``interrupt()``) -> no-op deploy -> END
    with a durable checkpointer (PostgreSQL, else SQLite), driven through its async API with
    the same concurrency as the worker.

"total s" is the launch phase plus the approve+deploy phase (each from the first publish
until every thread has moved on); the bench's own checks between the phases are not counted.
The parts: ``_fixture.py`` (repo and config), ``_deploybot.py`` (drives ``_worker.py``, the
worker subprocess; ``_metering.py`` and ``_traffic.py`` measure Redis), ``_langgraph.py``
(the baseline). Everything the run creates (Redis keys under a unique prefix, the Postgres
schema, temp files) is removed at the end, also on error or SIGTERM/Ctrl-C; the worker gets
SIGTERM, then SIGKILL.
"""

import argparse
import asyncio
import pstats
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from _common import BenchError, Result
from _deploybot import run_deploybot
from _fixture import make_fixture, service_names
from _langgraph import run_langgraph
from _traffic import count_traffic

__all__ = ["main"]

TARGET_THREADS_PER_S = 800.0
TARGET_RATIO = 10.0
TARGET_BYTES_PER_PAUSED = 2048.0


# -- output --------------------------------------------------------------------------------


def _table(rows: list[Result]) -> str:
    head = (
        "system",
        "threads",
        "total s",
        "threads/s",
        "launch/s",
        "approve+deploy/s",
        "bytes/paused thread",
    )
    body = [
        (
            r.system,
            str(r.threads),
            f"{r.total_s:.2f}",
            f"{r.per_s:.0f}",
            f"{r.launch_per_s:.0f}",
            f"{r.approve_per_s:.0f}",
            "-" if r.bytes_per_paused is None else f"{r.bytes_per_paused:.0f}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(b) for b in body)])


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(ours: Result, baseline: Result | str) -> None:
    rows = [ours] if isinstance(baseline, str) else [ours, baseline]
    print()
    print(_table(rows))
    print("total s = launch phase + approve+deploy phase; threads/s = threads / total s")
    print()
    for result in rows:
        print(f"{result.system}:")
        for note in result.notes:
            print(f"  {note}")
    if isinstance(baseline, str):
        print(f"baseline: unavailable ({baseline})")
        ratio = None
    else:
        ratio = ours.per_s / baseline.per_s
        print(
            f"ratio deploybot/baseline: threads/s x{ratio:.2f}, launch/s "
            f"x{ours.launch_per_s / baseline.launch_per_s:.2f}, approve+deploy/s "
            f"x{ours.approve_per_s / baseline.approve_per_s:.2f}"
        )
    print()
    print("targets:")
    print(
        f"  throughput >= {TARGET_THREADS_PER_S:.0f} threads/s: {ours.per_s:.0f} "
        f"{_verdict(ours.per_s >= TARGET_THREADS_PER_S)}"
    )
    if ratio is None:
        print(f"  >= {TARGET_RATIO:.0f}x baseline: n/a (no baseline) MISS")
    else:
        print(f"  >= {TARGET_RATIO:.0f}x baseline: x{ratio:.2f} {_verdict(ratio >= TARGET_RATIO)}")
    per = ours.bytes_per_paused or 0.0
    print(
        f"  <= {TARGET_BYTES_PER_PAUSED:.0f} bytes per paused thread: {per:.0f} "
        f"{_verdict(per <= TARGET_BYTES_PER_PAUSED)}"
    )


def print_profile(path: Path, *, top: int = 30) -> None:
    print(f"\nworker profile (cProfile, {path}), top {top} by own time:")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    print(f"top {top} by cumulative time:")
    stats.sort_stats("cumulative").print_stats(top)


# -- main ----------------------------------------------------------------------------------


async def run(
    args: argparse.Namespace, tmp: Path, *, config: Path, services: list[str], deploy_log: Path
) -> int:
    # SIGTERM cancels the run like Ctrl-C does, so the worker is stopped and keys removed.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    count_traffic()
    print(
        f"deploybot: {args.threads} threads over {len(services)} service(s), "
        f"redis {args.redis_url} ...",
        flush=True,
    )
    ours = await run_deploybot(args, config=config, services=services, deploy_log=deploy_log)
    print(f"  done in {ours.total_s:.2f} s", flush=True)
    baseline: Result | str = "skipped (--baseline none)"
    if args.baseline != "none":
        print(f"langgraph baseline: {args.threads} threads ...", flush=True)
        try:
            baseline = await run_langgraph(args, tmp)
        except BenchError:
            raise
        except Exception as exc:  # the baseline failing must not hide deploybot's numbers
            baseline = f"{type(exc).__name__}: {exc}"
        if isinstance(baseline, Result):
            print(f"  done in {baseline.total_s:.2f} s", flush=True)
    report(ours, baseline)
    if args.profile is not None and args.profile.exists():
        print_profile(args.profile)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description="deploybot vs a LangGraph baseline: threads through launch, approval "
        "and deploy.",
    )
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--services",
        type=int,
        default=0,
        help="services the threads deploy to production, round-robin (default 0: one per "
        "thread. Threads that share a service are not independent: when one's plan runs, "
        "the others' open requests for that service and environment are superseded and "
        "must be asked again, by design, so the bench's approve-all phase would stall)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="worker concurrency (bootstrap's default) and baseline concurrency",
    )
    parser.add_argument(
        "--count-deploys",
        action="store_true",
        help="deploy with a script that appends to a file, and count the runs",
    )
    parser.add_argument(
        "--baseline",
        choices=["auto", "postgres", "sqlite", "none"],
        default="auto",
        help="auto: postgres if it answers, else sqlite",
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--timeout-s", type=float, default=300, help="per phase")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the worker under cProfile, write stats here, print the top",
    )
    args = parser.parse_args()
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    tmp = Path(tempfile.mkdtemp(prefix="deploybot-bench-"))
    try:
        services = service_names(min(args.services or args.threads, args.threads))
        config, log = make_fixture(tmp, services=services, count_deploys=args.count_deploys)
        code = asyncio.run(run(args, tmp, config=config, services=services, deploy_log=log))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench interrupted; worker stopped, keys removed", file=sys.stderr)
        code = 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
