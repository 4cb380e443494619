"""Benchmark: reading a local git repository without a ``git`` process (issue 18, item 4).

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/git.py [--runs 200] [--dulwich-path DIR]

Two fixture repositories are made with ``git fast-import`` in a temporary folder: ``small``
(5 commits, 5 tags, annotated and lightweight) and ``big`` (2,000 commits on main, a 50-commit
side branch forked at commit 1,000, 200 tags every 10 commits, every other one annotated,
refs packed like a clone's). Each reader then does, side by side in one run:

- ``tags``: list the tags with their peeled commit and its subject (what ``list_tags`` does);
- ``one tag``: read one tag's commit and subject (the live re-check of one version);
- ``range``: the newest 5 commits and the count of ``A..B`` (evidence; big: 1,900 commits);
- ``ahead/behind``: of two shas (lineage; big: the side branch against main, 50/1,000).

Readers: ``subprocess`` (today's calls: ``git ls-remote --tags`` + ``git log --no-walk``,
``git rev-parse`` + ``git log -1``, ``git log`` and ``git rev-list --count`` side by side,
``git rev-list --left-right --count``), ``pygit2`` (libgit2, the repository opened per call
as deploybot does), ``dulwich`` (pure Python with its Rust extensions; optional: install it
into ``--dulwich-path`` with ``pip install --target``) and ``cat-file`` (one long-lived
``git cat-file --batch``, refs read from the files in Python, history walked in Python).
Printed per reader and operation: median and p95 wall time per call (µs) and CPU per call
(µs: this process plus its children, plus the long-lived ``cat-file`` process's own).
Finally the event loop's longest stall while pygit2 walks the big range in a thread.
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

# Run from the repository root: ``bench/git.py`` puts ``bench/`` first on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._git_readers import (
    CatFileReader,
    DulwichReader,
    Pygit2Reader,
    Reader,
    SubprocessReader,
    process_cpu_s,
)

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
}


def fast_import(path: Path, *, commits: int, tag_every: int, side: tuple[int, int] | None) -> None:
    """A repository of ``commits`` commits on main (one file changed each), a tag every
    ``tag_every`` commits (odd ones annotated), and optionally a side branch of ``side[1]``
    commits forked at commit ``side[0]``; refs packed."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=GIT_ENV)  # noqa: S603
    lines: list[str] = []
    stamp = 1_700_000_000

    def commit(ref: str, mark: int, parent: int | None, n: int, subject: str) -> None:
        data = f"change {n}\n"
        msg = f"{subject}\n\nbody of {subject}\n"
        lines.extend(
            [
                f"commit {ref}",
                f"mark :{mark}",
                f"author Dev {n % 7} <dev{n % 7}@example.invalid> {stamp + n * 60} +0000",
                f"committer Dev <dev@example.invalid> {stamp + n * 60} +0000",
                f"data {len(msg.encode())}",
                msg,
            ]
        )
        if parent is not None:
            lines.append(f"from :{parent}")
        lines.extend([f"M 644 inline file{n % 50}.txt", f"data {len(data.encode())}", data])

    for n in range(1, commits + 1):
        commit("refs/heads/main", n, n - 1 if n > 1 else None, n, f"main commit {n}")
        if n % tag_every == 0:
            k = n // tag_every
            name = f"v1.{k}.0"
            if k % 2:
                msg = f"release {name}\n"
                lines.extend(
                    [
                        f"tag {name}",
                        f"from :{n}",
                        f"tagger Rel <rel@example.invalid> {stamp + n * 60} +0000",
                        f"data {len(msg.encode())}",
                        msg,
                    ]
                )
            else:
                lines.extend([f"reset refs/tags/{name}", f"from :{n}", ""])
    if side:
        fork, length = side
        for i in range(1, length + 1):
            mark = commits + i
            commit("refs/heads/side", mark, fork if i == 1 else mark - 1, commits + i, f"side {i}")
    stream = ("\n".join(lines) + "\n").encode()
    subprocess.run(  # noqa: S603
        ["git", "-C", str(path), "fast-import", "--quiet"], input=stream, check=True, env=GIT_ENV
    )
    subprocess.run(["git", "-C", str(path), "pack-refs", "--all"], check=True, env=GIT_ENV)  # noqa: S603


def rev(path: Path, spec: str) -> str:
    out = subprocess.run(  # noqa: S603
        ["git", "-C", str(path), "rev-parse", spec],
        check=True,
        env=GIT_ENV,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


async def measure(
    call: Callable[[], Awaitable[object]], *, runs: int, cpu: Callable[[], float]
) -> tuple[float, float, float]:
    """(median µs, p95 µs, CPU µs) per call over ``runs`` calls, after 3 warm-up calls."""
    for _ in range(3):
        await call()
    walls: list[float] = []
    cpu0 = cpu()
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        await call()
        walls.append((time.perf_counter_ns() - t0) / 1000)
    cpu_us = (cpu() - cpu0) * 1e6 / runs
    walls.sort()
    return statistics.median(walls), walls[int(len(walls) * 0.95) - 1], cpu_us


async def loop_stall_ms(path: Path, head: str, base: str) -> tuple[float, float]:
    """(walk ms, the loop's longest gap ms) while pygit2 counts ``base..head`` in a thread."""
    import pygit2

    def walk() -> int:
        repo = pygit2.Repository(str(path))
        walker = repo.walk(head, pygit2.enums.SortMode.TIME)
        walker.hide(base)
        return sum(1 for _ in walker)

    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.0005)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    for _ in range(20):
        await asyncio.to_thread(walk)
    took = (time.perf_counter() - t0) / 20
    done = True
    await tick
    return took * 1000, worst * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--dulwich-path", default="", help="a folder holding dulwich")
    args = parser.parse_args()
    if args.dulwich_path:
        sys.path.append(args.dulwich_path)
    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        fast_import(small, commits=5, tag_every=1, side=None)
        fast_import(big, commits=2000, tag_every=10, side=(1000, 50))
        cases = {
            small: ("v1.3.0", rev(small, "v1.1.0^{}"), rev(small, "v1.5.0^{}"),
                    rev(small, "v1.2.0^{}"), rev(small, "v1.4.0^{}")),
            big: ("v1.101.0", rev(big, "v1.10.0^{}"), rev(big, "v1.200.0^{}"),
                  rev(big, "side"), rev(big, "main")),
        }  # fmt: skip
        readers: list[Reader] = [SubprocessReader(), Pygit2Reader()]
        try:
            readers.append(DulwichReader())
        except ImportError:
            print("dulwich: not installed (pip install --target DIR dulwich; --dulwich-path DIR)")
        readers.append(CatFileReader())
        print(f"{'repo':6} {'op':13} {'reader':11} {'median µs':>10} {'p95 µs':>10} {'CPU µs':>10}")
        for path, (one, base, head, left, right) in cases.items():
            answers: dict[str, set[str]] = {}
            for reader in readers:
                await reader.open(path)
                ops: dict[str, Callable[[], Awaitable[object]]] = {
                    "tags": reader.tags,
                    "one tag": lambda r=reader, n=one: r.one_tag(n),
                    "range": lambda r=reader, b=base, h=head: r.range(h, b),
                    "ahead/behind": lambda r=reader, a=left, b=right: r.ahead_behind(a, b),
                }
                for op, call in ops.items():
                    answers.setdefault(op, set()).add(repr(await call()))
                    med, p95, cpu = await measure(
                        call, runs=args.runs, cpu=lambda r=reader: process_cpu_s() + r.extra_cpu_s()
                    )
                    row = f"{path.name:6} {op:13} {reader.name:11}"
                    print(f"{row} {med:10.0f} {p95:10.0f} {cpu:10.0f}")
                await reader.close()
            for op, seen in answers.items():
                if len(seen) != 1:
                    print(f"!! {path.name} {op}: the readers disagree: {sorted(seen)}")
        walk_ms, stall_ms = await loop_stall_ms(big, cases[big][2], cases[big][1])
        print(f"pygit2 walk of 1,900 commits in a thread: {walk_ms:.1f} ms; "
              f"longest event-loop stall meanwhile {stall_ms:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
