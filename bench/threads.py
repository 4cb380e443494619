"""Benchmark (issue 18): N deploy threads through launch -> approval -> deploy, deploybot
next to LangGraph, side by side in one run.

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/threads.py [--threads N] [--services K] [--workers W]
        [--paused K1,K2] [--p6-rounds R] [--count-deploys] [--new-installation]
        [--baseline auto|postgres|sqlite|none] [--profile FILE] [--asyncio-loop]

The deploy commands run as root (the fixture lives in a private temporary folder another
user cannot enter): the bench sets ``DEPLOYBOT_RUN_COMMANDS_AS_ROOT=true`` for its workers
when it is unset.

(a) deploybot on real Redis with one worker process (``bench/_worker.py``) and a zero-latency
    scripted agent, in the steady state of an installation that has run for a while (an old
    intact mark, so no new installation's quiet period; see ``bench/_drive.py``). Each
    thread: a free-text launch from ``api:carol`` (prefetch, the agent proposes a deploy to
    production, a plan, an approval request; the thread pauses), then ``approve`` from
    ``api:alice`` (approval recorded, environment lock, write-ahead ``deploy_started``, the
    deploy command, ``deploy_finished``, the result message). With ``--services K`` the
    threads go round-robin over K services (default: one per thread; threads that share a
    service and environment are superseded by design). Then the P6 latency rounds
    (``bench/_p6.py``).
(b) the peer: a LangGraph graph plan -> approval (``interrupt()``) -> deploy -> END with a
    durable checkpointer (PostgreSQL, else SQLite), the same concurrency; its deploy node runs
    the same command as a subprocess (every ratio is against it), and a second row with a
    no-op deploy node (``bench/_langgraph.py``).
(c) ``--workers W`` (W > 1): the deploybot phases again with W workers on a fresh prefix (P7).
(d) ``--paused K1,K2,...``: the deploybot phases again per K, after seeding K paused threads
    (``bench/_paused.py``).

"total s" is the launch phase plus the approve+deploy phase (each from the first publish
until every thread has moved on); the bench's own checks between the phases are not counted.
The report (``bench/_report.py``) prints every row, issue 18's targets with PASS/MISS and a
markdown table with the date and machine. Everything the run creates (Redis keys under unique
prefixes, Postgres schemas, temp files, worker processes) is removed at the end, also on
error or SIGTERM/Ctrl-C; workers get SIGTERM, then SIGKILL.
"""

import argparse
import asyncio
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BenchError, Result
from _deploybot import run_deploybot
from _fixture import Fixture, make_fixture, p6_service_names, service_names
from _langgraph import run_langgraph
from _profile import summary
from _report import Report
from _traffic import count_traffic
from redis.asyncio import Redis

__all__ = ["main"]

P6_PER_ROUND = 32


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


async def _machine(redis_url: str) -> str:
    model = _cpu_model()
    redis = Redis.from_url(redis_url)
    try:
        version = (await redis.info("server"))["redis_version"]
    finally:
        await redis.aclose()
    return (
        f"{os.cpu_count()} CPUs (nproc), {model}, Redis {version}, "
        f"Python {platform.python_version()}"
    )


def _commit() -> str:
    """HEAD of the checkout the bench runs in (``BENCH_COMMIT`` when set: a copy made with
    ``git archive`` has no ``.git``), ``+changes`` when bot/, agents/ or channels/ differ."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    here = Path(__file__).resolve().parent.parent
    dirty = subprocess.run(  # noqa: S603 - fixed argv
        ["git", "-C", str(here), "status", "--porcelain", "--", "bot", "agents", "channels"],
        capture_output=True,
        text=True,
        check=False,
    )
    got = subprocess.run(  # noqa: S603 - fixed argv
        ["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return (got.stdout.strip() or "unknown") + (" +changes" if dirty.stdout.strip() else "")


async def _peer(args: argparse.Namespace, tmp: Path, fixture: Fixture, mode: str) -> Result | str:
    if args.baseline == "none":
        return "skipped (--baseline none)"
    print(f"LangGraph, {mode} deploy: {args.threads} threads ...", flush=True)
    try:
        got = await run_langgraph(
            args, tmp, fixture, mode="subprocess" if mode == "subprocess" else "noop"
        )
    except BenchError:
        raise
    except Exception as exc:  # the peer failing must not hide deploybot's numbers
        return f"{type(exc).__name__}: {exc}"
    if isinstance(got, Result):
        print(f"  done in {got.total_s:.2f} s", flush=True)
    return got


# -- main ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, tmp: Path, fixture: Fixture) -> int:
    # SIGTERM cancels the run like Ctrl-C does, so the workers are stopped and keys removed.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    count_traffic()
    machine = await _machine(args.redis_url)
    print(
        f"deploybot, 1 worker: {args.threads} threads over {len(fixture.services)} "
        f"service(s), redis {args.redis_url} ...",
        flush=True,
    )
    ours = await run_deploybot(
        args, fixture, workers=1, p6_rounds=args.p6_rounds, profile=args.profile
    )
    print(f"  done in {ours.total_s:.2f} s", flush=True)
    extra = []
    if args.asyncio_loop:
        print("deploybot, 1 worker on asyncio's own event loop (fresh prefix) ...", flush=True)
        extra.append(await run_deploybot(args, fixture, workers=1, asyncio_loop=True))
        print(f"  done in {extra[-1].total_s:.2f} s", flush=True)
    scaled = None
    if args.workers > 1:
        print(f"deploybot, {args.workers} workers (fresh prefix) ...", flush=True)
        scaled = await run_deploybot(args, fixture, workers=args.workers)
        print(f"  done in {scaled.total_s:.2f} s", flush=True)
    paused = []
    for count in args.paused:
        print(f"deploybot, 1 worker, {count:,} paused threads (fresh prefix) ...", flush=True)
        paused.append(await run_deploybot(args, fixture, workers=1, paused=count))
        print(f"  done in {paused[-1].total_s:.2f} s", flush=True)
    peer = await _peer(args, tmp, fixture, "subprocess")
    noop = await _peer(args, tmp, fixture, "no-op")
    Report(
        ours=ours,
        peer=peer,
        noop=noop,
        scaled=scaled,
        paused=paused,
        extra=extra,
        machine=machine,
        commit=_commit(),
    ).print()
    if args.profile is not None and args.profile.exists():
        print()
        print("\n".join(summary(args.profile)))
    return 0


def _counts(raw: str) -> list[int]:
    try:
        got = sorted(int(part.replace("_", "")) for part in raw.split(",") if part)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {raw!r}") from exc
    if any(k < 1 for k in got):
        raise argparse.ArgumentTypeError("paused counts must be >= 1")
    return got


def main() -> None:
    parser = argparse.ArgumentParser(
        description="deploybot vs a LangGraph peer: threads through launch, approval "
        "and deploy (issue 18's measures).",
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
        "--workers",
        type=int,
        default=1,
        help="W > 1: the deploybot phases also with W worker processes on one Redis (P7)",
    )
    parser.add_argument(
        "--paused",
        type=_counts,
        default=[],
        help="comma-separated K1,K2,...: the deploybot phases again after seeding K paused "
        "threads, each K on its own prefix (e.g. 1000,100000)",
    )
    parser.add_argument(
        "--p6-rounds",
        type=int,
        default=5,
        help=f"P6 latency: rounds of {P6_PER_ROUND} approvals published at once (0: skip)",
    )
    parser.add_argument(
        "--new-installation",
        action="store_true",
        help="do not write an old intact mark: measure a new installation's first minute "
        "(no deploy lock for a lock lease + 2 s), as the bench did before issue 18",
    )
    parser.add_argument(
        "--asyncio-loop",
        action="store_true",
        help="also run the 1-worker deploybot phases with the worker on asyncio's own event "
        "loop (before uvloop), a row beside the others",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the (first) worker of the main run under cProfile, write stats here, and "
        "print where its time goes by package",
    )
    args = parser.parse_args()
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    # The fixture is in a private temporary folder: the commands run as root, like the tests.
    os.environ.setdefault("DEPLOYBOT_RUN_COMMANDS_AS_ROOT", "true")
    tmp = Path(tempfile.mkdtemp(prefix="deploybot-bench-"))
    try:
        fixture = make_fixture(
            tmp,
            services=service_names(min(args.services or args.threads, args.threads)),
            p6_services=p6_service_names(args.p6_rounds * P6_PER_ROUND),
            count_deploys=args.count_deploys,
        )
        code = asyncio.run(run(args, tmp, fixture))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench interrupted; workers stopped, keys removed", file=sys.stderr)
        code = 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
