"""What the benchmark prints: every row, its notes, issue 18's measures with their targets
(PASS/MISS) and a markdown table for the README. Pure formatting over the results; a row that
is missing (a peer unavailable, an option not given) prints as ``n/a``, never as a pass."""

import datetime
from dataclasses import dataclass, field

from _common import Result, quantile, verdict

__all__ = ["Report", "Targets", "table"]


@dataclass(frozen=True)
class Targets:
    pipeline_x: float = 5.0
    launch_x: float = 5.0
    approve_x: float = 3.0
    launch_trips: float = 4.0
    approve_trips: float = 8.0
    bot_cpu_ms: float = 3.0
    p6_p99_ms: float = 45.0
    scale_x: float = 1.8
    paused_x: float = 1.2
    paused_bytes: float = 2048.0
    approve_p95_s: float = 1.0


def table(rows: list[Result]) -> str:
    head = ("system", "threads", "total s", "threads/s", "launch/s", "approve+deploy/s")
    body = [
        (
            r.system,
            str(r.threads),
            f"{r.total_s:.2f}",
            f"{r.per_s:.0f}",
            f"{r.launch_per_s:.0f}",
            f"{r.approve_per_s:.0f}",
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


@dataclass
class Report:
    ours: Result
    peer: Result | str
    noop: Result | str
    scaled: Result | None = None
    paused: list[Result] = field(default_factory=list)
    #: rows printed beside the others and never judged (``--asyncio-loop``'s)
    extra: list[Result] = field(default_factory=list)
    machine: str = ""
    commit: str = ""
    targets: Targets = field(default_factory=Targets)
    #: (measure, value, target, verdict) for the markdown table
    lines: list[tuple[str, str, str, str]] = field(default_factory=list)

    def _check(self, what: str, value: str, target: str, ok: bool | None) -> None:
        mark = "n/a" if ok is None else verdict(ok)
        self.lines.append((what, value, target, mark))
        print(f"  {what}: {value} (target {target}) {mark}")

    def print(self) -> None:
        rows = [self.ours, *self.extra, *([self.scaled] if self.scaled else []), *self.paused]
        rows += [r for r in (self.peer, self.noop) if isinstance(r, Result)]
        print()
        print(table(rows))
        print("total s = launch phase + approve+deploy phase; threads/s = threads / total s")
        for result in rows:
            print(f"\n{result.system}:")
            for note in result.notes:
                print(f"  {note}")
        for name, peer in (("subprocess peer", self.peer), ("no-op peer", self.noop)):
            if isinstance(peer, str):
                print(f"\nLangGraph {name}: unavailable ({peer})")
        print("\nissue 18 (ratios against the LangGraph peer whose deploy runs the command):")
        self._ratios()
        self._costs()
        self._p6()
        self._scale()
        self._paused()
        print()
        print(self.markdown(rows))

    def _ratios(self) -> None:
        t, ours, peer = self.targets, self.ours, self.peer
        for what, attr, goal in (
            ("whole pipeline threads/s", "per_s", t.pipeline_x),
            ("launch/s", "launch_per_s", t.launch_x),
            ("approve+deploy/s", "approve_per_s", t.approve_x),
        ):
            mine = float(getattr(ours, attr))
            if isinstance(peer, Result):
                theirs = float(getattr(peer, attr))
                ratio = mine / theirs
                value = f"x{ratio:.2f} ({mine:.0f} vs {theirs:.0f})"
                self._check(f"{what} vs peer", value, f">= x{goal:g}", ratio >= goal)
            else:
                self._check(f"{what} vs peer", f"{mine:.0f} (no peer)", f">= x{goal:g}", None)
        p95 = ours.approve_p95_s
        if p95 is not None:
            self._check(
                "approval_decided -> deploy_finished p95",
                f"{1000 * p95:.0f} ms",
                f"< {1000 * t.approve_p95_s:.0f} ms",
                p95 < t.approve_p95_s,
            )

    def _costs(self) -> None:
        t = self.targets
        launch, approve = self.ours.phases["launch"], self.ours.phases["approve"]
        print(
            f"  worker CPU per thread: launch {launch.worker_cpu_ms:.2f} ms, approve+deploy "
            f"{approve.worker_cpu_ms:.2f} ms; Redis commands per thread: launch "
            f"{launch.commands:.1f}, approve+deploy {approve.commands:.1f}"
        )
        for what, phase, goal in (
            ("worker round trips per launch", launch, t.launch_trips),
            ("worker round trips per approve+deploy", approve, t.approve_trips),
        ):
            ok = phase.round_trips <= goal
            shown = f"{phase.round_trips:.1f} (the turn's own {phase.turn_round_trips:.1f})"
            self._check(what, shown, f"<= {goal:g}", ok)
        if approve.supervisor_measured:
            bot = approve.worker_cpu_ms + approve.supervisor_cpu_ms
            how = (
                f"{bot:.2f} ms (worker {approve.worker_cpu_ms:.2f} + supervisor "
                f"{approve.supervisor_cpu_ms:.2f})"
            )
        else:
            command = self.peer.deploy_cpu_ms if isinstance(self.peer, Result) else None
            supervisor = approve.children_cpu_ms - (command or 0.0)
            bot = approve.worker_cpu_ms + supervisor
            how = (
                f"{bot:.2f} ms (worker {approve.worker_cpu_ms:.2f} + supervisor not measured: "
                f"estimated as the worker's reaped child processes (supervisors, git, the "
                f"commands) {approve.children_cpu_ms:.2f} - the command's own "
                f"{command or 0.0:.2f} as the peer ran it)"
            )
        self._check(
            "bot CPU per deploy beyond the command",
            how,
            f"<= {t.bot_cpu_ms:g} ms",
            bot <= t.bot_cpu_ms,
        )

    def _p6(self) -> None:
        got = self.ours.latency
        if got is None:
            self._check("P6 approval -> command started p99", "not run", "<= 45 ms", None)
            return
        p50, p99 = 1000 * quantile(got.samples, 0.5), 1000 * quantile(got.samples, 0.99)
        value = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({got.rounds} x {got.per_round})"
        goal = self.targets.p6_p99_ms
        self._check("P6 approval -> command started", value, f"p99 <= {goal:g} ms", p99 <= goal)

    def _scale(self) -> None:
        if self.scaled is None:
            self._check("P7 scale out", "not run (--workers 2)", ">= x1.8", None)
            return
        one, many = self.ours, self.scaled
        ratio = many.approve_per_s / one.approve_per_s
        for r in (one, many):
            cpu = ", ".join(
                f"{p.name} " + " + ".join(f"{c:.0f}%" for c in p.worker_pct)
                for p in r.phases.values()
            )
            print(f"  {r.system}: approve+deploy {r.approve_per_s:.0f}/s; worker CPU {cpu}")
        value = f"x{ratio:.2f} ({many.approve_per_s:.0f} vs {one.approve_per_s:.0f}/s)"
        what = f"P7 approve+deploy, {many.workers} workers vs 1"
        self._check(what, value, f">= x{self.targets.scale_x:g}", ratio >= self.targets.scale_x)

    def _paused(self) -> None:
        if len(self.paused) < 2:
            self._check("paused threads", "not run (--paused 1000,100000)", "<= x1.2", None)
            return
        for r in self.paused:
            launch, approve = r.phases["launch"], r.phases["approve"]
            print(
                f"  {r.paused:>7,} paused: launch {1000 * r.launch_s / r.threads:.2f} ms/thread "
                f"(CPU {launch.worker_cpu_ms:.2f}), approve+deploy "
                f"{1000 * r.approve_s / r.threads:.2f} ms/thread (CPU {approve.worker_cpu_ms:.2f})"
            )
        few, many = self.paused[0], self.paused[-1]
        goal = self.targets.paused_x
        pairs = (
            ("launch time", few.launch_s, many.launch_s),
            ("approve+deploy time", few.approve_s, many.approve_s),
            (
                "launch CPU",
                few.phases["launch"].worker_cpu_ms,
                many.phases["launch"].worker_cpu_ms,
            ),
            (
                "approve+deploy CPU",
                few.phases["approve"].worker_cpu_ms,
                many.phases["approve"].worker_cpu_ms,
            ),
        )
        for what, before, after in pairs:  # same thread count in every run
            ratio = after / before
            label = f"{what} per thread, {many.paused:,} vs {few.paused:,} paused"
            self._check(label, f"x{ratio:.2f}", f"<= x{goal:g}", ratio <= goal)
        seeded = many.seeded_bytes or 0.0
        limit = self.targets.paused_bytes
        self._check(
            "Redis bytes per paused thread", f"{seeded:.0f} B", f"<= {limit:.0f} B", seeded <= limit
        )

    def markdown(self, rows: list[Result]) -> str:
        out = [
            f"{datetime.date.today().isoformat()}, commit {self.commit}; {self.machine}",
            "",
            "| system | threads | threads/s | launch/s | approve+deploy/s | worker CPU ms "
            "launch / approve+deploy | round trips launch / approve+deploy |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            if r.phases:
                lp, ap = r.phases["launch"], r.phases["approve"]
                cpu = f"{lp.worker_cpu_ms:.2f} / {ap.worker_cpu_ms:.2f}"
                trips = f"{lp.round_trips:.1f} / {ap.round_trips:.1f}"
            else:
                cpu = trips = ""
            out.append(
                f"| {r.system} | {r.threads} | {r.per_s:.0f} | {r.launch_per_s:.0f} | "
                f"{r.approve_per_s:.0f} | {cpu} | {trips} |"
            )
        out += ["", "| measure | value | target | |", "|---|---|---|---|"]
        out += [f"| {w} | {v} | {t} | {m} |" for w, v, t, m in self.lines]
        return "\n".join(out)
