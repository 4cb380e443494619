"""(b) the peer: a LangGraph human-in-the-loop graph with a durable checkpointer.

plan -> approval (``interrupt()``) -> deploy -> END. Two variants, each on its own Postgres
schema (or SQLite file): ``subprocess`` (the fair peer: the deploy node runs the same deploy
command as deploybot, the service's argv and working folder from the fixture's config, with
``asyncio.create_subprocess_exec(*argv)`` awaited, as a LangGraph user would) and ``noop``
(the deploy node is a function call). Failures: a thread that does not pause or finish, a
deploy that exits non-zero or runs other than once (``BenchError``); an unavailable
checkpointer is returned as the reason (a string), so deploybot's numbers still print.
"""

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

from _common import LAUNCH_TEXT, BenchError, Result, bounded
from _fixture import Fixture, peer_command

__all__ = ["Mode", "run_langgraph"]

Mode = Literal["subprocess", "noop"]
Commands = dict[str, tuple[list[str], Path]]


class FlowState(TypedDict, total=False):
    request: str
    plan: dict[str, str]
    approved_by: str
    result: str


@dataclass
class Checkpointer:
    name: str
    saver: Any
    size_bytes: Callable[[], Awaitable[int]]


def _build_graph(checkpointer: Any, deploys: Counter[str], commands: Commands | None) -> Any:
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    async def plan(state: FlowState) -> FlowState:
        return {
            "plan": {
                "service": "backend",
                "environment": "production",
                "version": "v1.4.0",
                "requester": "carol",
            }
        }

    async def approval(state: FlowState) -> FlowState:
        answer = interrupt({"plan": state["plan"], "approvers": ["alice", "bob"]})
        return {"approved_by": answer["user"]}

    async def deploy(state: FlowState, config: RunnableConfig) -> FlowState:
        tid = config["configurable"]["thread_id"]
        deploys[tid] += 1
        if commands is None:  # the no-op deploy
            return {"result": "succeeded"}
        argv, cwd = commands[tid]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env={**os.environ, "DEPLOYBOT_IDEMPOTENCY_KEY": f"{tid}:peer"},
            stdin=asyncio.subprocess.DEVNULL,
        )
        code = await proc.wait()
        return {"result": "succeeded" if code == 0 else f"failed ({code})"}

    graph = StateGraph(FlowState)
    graph.add_node("plan", plan)
    graph.add_node("approval", approval)
    graph.add_node("deploy", deploy)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "approval")
    graph.add_edge("approval", "deploy")
    graph.add_edge("deploy", END)
    return graph.compile(checkpointer=checkpointer)


@contextlib.asynccontextmanager
async def _postgres(url: str, pool_size: int) -> Any:
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import AsyncConnectionPool

    schema = f"bench_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=3
    ) as admin:
        await admin.execute(f"CREATE SCHEMA {schema}")
        try:
            pool = AsyncConnectionPool(
                url,
                min_size=pool_size,
                max_size=pool_size,
                open=False,
                connection_class=psycopg.AsyncConnection[DictRow],
                kwargs={
                    "autocommit": True,
                    "prepare_threshold": 0,
                    "row_factory": dict_row,
                    "options": f"-c search_path={schema}",
                },
            )
            await pool.open(wait=True, timeout=10)
            try:
                saver = AsyncPostgresSaver(pool)
                await saver.setup()

                async def size() -> int:
                    cur = await admin.execute(
                        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relkind = 'r'",
                        (schema,),
                    )
                    row = await cur.fetchone()
                    return int(row[0]) if row else 0

                yield Checkpointer(
                    f"postgres {url.rsplit('@', 1)[-1]}, schema {schema}, pool {pool_size}",
                    saver,
                    size,
                )
            finally:
                await pool.close()
        finally:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _files_bytes(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern))


@contextlib.asynccontextmanager
async def _sqlite(tmp: Path, mode: str) -> Any:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = tmp / f"langgraph-{mode}.sqlite"
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()

        async def size() -> int:
            return _files_bytes(tmp, f"langgraph-{mode}.sqlite*")

        yield Checkpointer(f"sqlite {path}", saver, size)


async def _postgres_answers(url: str) -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg not installed ({exc})"
    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=3) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        one_line = " ".join(str(exc).split())
        return f"{type(exc).__name__}: {one_line[:160]}"
    return None


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_langgraph(
    args: argparse.Namespace, tmp: Path, fixture: Fixture, *, mode: Mode
) -> Result | str:
    """The peer's result, or why it is unavailable."""
    n: int = args.threads
    try:
        from langgraph.types import Command
    except ImportError as exc:
        return f"langgraph not installed ({exc}); .venv/bin/pip install -e '.[bench]'"
    kind: str = args.baseline
    notes: list[str] = []
    if kind in ("auto", "postgres"):
        why = await _postgres_answers(args.pg_url)
        if why is None:
            kind = "postgres"
        elif kind == "postgres":
            return f"postgres at {args.pg_url} unavailable: {why}"
        else:
            notes.append(f"postgres unavailable ({why}); fell back to sqlite")
            kind = "sqlite"
    try:
        opened = (
            _postgres(args.pg_url, args.concurrency) if kind == "postgres" else _sqlite(tmp, mode)
        )
    except ImportError as exc:
        return f"langgraph-checkpoint-{kind} not installed ({exc})"
    ids = [f"lg-{i:05d}" for i in range(n)]
    services = fixture.services
    commands = (
        {
            tid: peer_command(fixture, service=services[i % len(services)], key=f"{tid}:peer")
            for i, tid in enumerate(ids)
        }
        if mode == "subprocess"
        else None
    )
    deploys: Counter[str] = Counter()
    async with opened as checkpointer:
        graph = _build_graph(checkpointer.saver, deploys, commands)

        def cfg(tid: str) -> Any:
            return {"configurable": {"thread_id": tid}}

        async def launch(tid: str) -> None:
            out = await graph.ainvoke({"request": LAUNCH_TEXT}, cfg(tid))
            if "__interrupt__" not in out:
                raise BenchError(f"langgraph thread {tid} did not pause: {out}")

        async def approve(tid: str) -> None:
            resume: Command[Any] = Command(resume={"user": "alice", "decision": "approve"})
            out = await graph.ainvoke(resume, cfg(tid))
            if out.get("result") != "succeeded":
                raise BenchError(f"langgraph thread {tid} did not finish: {out}")

        size_before = await checkpointer.size_bytes()
        t0 = time.perf_counter()
        await bounded((launch(t) for t in ids), limit=args.concurrency)
        t1 = time.perf_counter()
        size_paused = await checkpointer.size_bytes()
        for snap in await bounded((graph.aget_state(cfg(t)) for t in ids), limit=32):
            if snap.next != ("approval",):
                raise BenchError(f"langgraph thread not paused at approval: {snap.next}")
        cpu_before = _children_cpu_s()
        t2 = time.perf_counter()
        await bounded((approve(t) for t in ids), limit=args.concurrency)
        t3 = time.perf_counter()
        deploy_cpu_ms = 1000 * (_children_cpu_s() - cpu_before) / n
        for snap in await bounded((graph.aget_state(cfg(t)) for t in ids), limit=32):
            if snap.next != ():
                raise BenchError(f"langgraph thread not finished: {snap.next}")
        if deploys != Counter(dict.fromkeys(ids, 1)):
            raise BenchError(f"langgraph deploy node ran {sum(deploys.values())} times")
        import langgraph.version

        notes += [
            f"langgraph {langgraph.version.__version__}, checkpointer {checkpointer.name}",
            "in-process: graph.ainvoke() launch -> interrupt(), then Command(resume=...) -> "
            + (
                f"deploy node running {commands[ids[0]][0]} as a subprocess (awaited) -> END"
                if commands is not None
                else "no-op deploy node -> END"
            )
            + f", {args.concurrency} concurrent, default durability; all paused, then all "
            "finished, deploy node ran once per thread"
            + (
                f"; the deploy subprocesses' CPU {deploy_cpu_ms:.2f} ms/thread"
                if commands is not None
                else ""
            ),
            "bytes/paused thread = growth of the checkpoint storage on disk (Postgres tables "
            "with indexes and TOAST, or the SQLite files) / N",
        ]
        return Result(
            system=(
                f"LangGraph ({kind}), subprocess deploy"
                if mode == "subprocess"
                else f"LangGraph ({kind}), no-op deploy"
            ),
            threads=n,
            total_s=(t1 - t0) + (t3 - t2),
            launch_s=t1 - t0,
            approve_s=t3 - t2,
            bytes_per_paused=(size_paused - size_before) / n,
            notes=notes,
            deploy_cpu_ms=deploy_cpu_ms if commands is not None else None,
        )
