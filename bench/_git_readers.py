"""The readers bench/git.py compares: each lists tags (peeled commit, subject), reads one
tag's commit, reads a range (newest 5 commits + count) and counts ahead/behind of two shas,
and answers the same plain tuples so the benchmark can check they agree."""

import asyncio
import heapq
import os
import resource
import time
from pathlib import Path
from typing import Any

__all__ = [
    "CatFileReader",
    "DulwichReader",
    "Pygit2Reader",
    "Reader",
    "SubprocessReader",
    "process_cpu_s",
]

SHOWN = 5
_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def process_cpu_s() -> float:
    """This process's CPU plus its reaped children's (the git processes it ran)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def subject_of(message: str) -> str:
    """git's ``%s``: the first paragraph, its lines joined by spaces."""
    lines = message.lstrip("\n").split("\n")
    out: list[str] = []
    for line in lines:
        if not line.strip():
            break
        out.append(line.rstrip())
    return " ".join(out)


class Reader:
    name = "?"

    async def open(self, path: Path) -> None:
        self.path = str(path)

    async def close(self) -> None:
        return None

    def extra_cpu_s(self) -> float:
        return 0.0

    async def tags(self) -> Any:
        raise NotImplementedError

    async def one_tag(self, name: str) -> Any:
        raise NotImplementedError

    async def range(self, head: str, base: str) -> Any:
        raise NotImplementedError

    async def ahead_behind(self, left: str, right: str) -> Any:
        raise NotImplementedError


class SubprocessReader(Reader):
    """Today's calls, one ``git`` process each (bot/shell/world/tags.py, evidence.py)."""

    name = "subprocess"

    async def _git(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "git", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, env={"LC_ALL": "C", "PATH": os.environ["PATH"]},
        )  # fmt: skip
        out, err = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(err.decode())
        return out.decode(errors="replace")

    async def tags(self) -> Any:
        out = await self._git("ls-remote", "--tags", "--", self.path)
        shas: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/tags/")
            if name.endswith("^{}"):
                shas[name[:-3]] = sha
            else:
                shas.setdefault(name, sha)
        log = await self._git(
            "-C", self.path, "log", "--no-walk=unsorted", "--format=%H%x00%s", *set(shas.values())
        )
        subjects = dict(line.split("\x00", 1) for line in log.splitlines())
        return sorted((n, s, subjects[s]) for n, s in shas.items())

    async def one_tag(self, name: str) -> Any:
        sha = (await self._git("-C", self.path, "rev-parse", f"refs/tags/{name}^{{}}")).strip()
        subject = await self._git("-C", self.path, "log", "-1", "--format=%s", sha, "--")
        return sha, subject.strip()

    async def range(self, head: str, base: str) -> Any:
        log, count = await asyncio.gather(
            self._git("-C", self.path, "log", f"-n{SHOWN}", "--format=%H%x00%an%x00%s",
                      head, f"^{base}", "--"),
            self._git("-C", self.path, "rev-list", "--count", head, f"^{base}", "--"),
        )  # fmt: skip
        return [tuple(line.split("\x00")) for line in log.splitlines()], int(count)

    async def ahead_behind(self, left: str, right: str) -> Any:
        out = await self._git(
            "-C", self.path, "rev-list", "--left-right", "--count", f"{left}...{right}", "--"
        )
        a, b = out.split()
        return int(a), int(b)


class Pygit2Reader(Reader):
    """libgit2 in-process; the repository opened per call, so refs are read fresh."""

    name = "pygit2"

    def __init__(self) -> None:
        import pygit2

        self.pygit2 = pygit2

    def _repo(self) -> Any:
        return self.pygit2.Repository(self.path, self.pygit2.enums.RepositoryOpenFlag.NO_SEARCH)

    async def tags(self) -> Any:
        repo = self._repo()
        out = []
        for ref in repo.references.iterator(self.pygit2.enums.ReferenceFilter.TAGS):
            commit = ref.peel(self.pygit2.Commit)
            out.append((ref.name.removeprefix("refs/tags/"), str(commit.id),
                        subject_of(commit.message)))  # fmt: skip
        return sorted(out)

    async def one_tag(self, name: str) -> Any:
        commit = self._repo().references[f"refs/tags/{name}"].peel(self.pygit2.Commit)
        return str(commit.id), subject_of(commit.message)

    async def range(self, head: str, base: str) -> Any:
        order = self.pygit2.enums.SortMode.TOPOLOGICAL | self.pygit2.enums.SortMode.TIME
        walker = self._repo().walk(head, order)  # as gitrepo walks a range with a base
        walker.hide(base)
        shown, count = [], 0
        for commit in walker:
            if count < SHOWN:
                shown.append((str(commit.id), commit.author.name, subject_of(commit.message)))
            count += 1
        return shown, count

    async def ahead_behind(self, left: str, right: str) -> Any:
        return tuple(self._repo().ahead_behind(left, right))


class DulwichReader(Reader):
    """dulwich in-process; the repository opened per call."""

    name = "dulwich"

    def __init__(self) -> None:
        from dulwich.repo import Repo

        self.repo_class = Repo

    def _repo(self) -> Any:
        return self.repo_class(self.path)

    @staticmethod
    def _peel(repo: Any, sha: bytes) -> Any:
        obj = repo[sha]
        while obj.type_name == b"tag":
            obj = repo[obj.object[1]]
        return obj

    async def tags(self) -> Any:
        repo = self._repo()
        out = []
        for name, sha in repo.refs.as_dict(b"refs/tags").items():
            commit = self._peel(repo, sha)
            out.append((name.decode(), commit.id.decode(), subject_of(commit.message.decode())))
        return sorted(out)

    async def one_tag(self, name: str) -> Any:
        repo = self._repo()
        commit = self._peel(repo, repo.refs[f"refs/tags/{name}".encode()])
        return commit.id.decode(), subject_of(commit.message.decode())

    async def range(self, head: str, base: str) -> Any:
        walker = self._repo().get_walker(include=[head.encode()], exclude=[base.encode()])
        shown, count = [], 0
        for entry in walker:
            c = entry.commit
            if count < SHOWN:
                author = c.author.decode().rsplit(" <", 1)[0]
                shown.append((c.id.decode(), author, subject_of(c.message.decode())))
            count += 1
        return shown, count

    async def ahead_behind(self, left: str, right: str) -> Any:
        repo = self._repo()
        a = sum(1 for _ in repo.get_walker(include=[left.encode()], exclude=[right.encode()]))
        b = sum(1 for _ in repo.get_walker(include=[right.encode()], exclude=[left.encode()]))
        return a, b


class CatFileReader(Reader):
    """One long-lived ``git cat-file --batch``: refs read from the files, objects asked for
    by the pipe, history walked in Python (committer-date order, like git log)."""

    name = "cat-file"

    async def open(self, path: Path) -> None:
        await super().open(path)
        self.proc = await asyncio.create_subprocess_exec(
            "git", "-C", self.path, "cat-file", "--batch",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.wait()

    def extra_cpu_s(self) -> float:
        if self.proc.returncode is not None:
            return 0.0
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * _TICK_S

    async def _objects(self, specs: list[str]) -> list[tuple[str, str, bytes]]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("".join(f"{s}\n" for s in specs).encode())
        await self.proc.stdin.drain()
        out = []
        for _ in specs:
            sha, kind, size = (await self.proc.stdout.readline()).decode().split()
            body = await self.proc.stdout.readexactly(int(size) + 1)
            out.append((sha, kind, body[:-1]))
        return out

    def _tag_names(self) -> list[str]:
        git_dir = Path(self.path) / ".git"
        names = set()
        packed = git_dir / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                _, _, ref = line.partition(" ")
                if ref.startswith("refs/tags/"):
                    names.add(ref)
        loose = git_dir / "refs" / "tags"
        names.update(f"refs/tags/{p.relative_to(loose)}" for p in loose.rglob("*") if p.is_file())
        return sorted(names)

    @staticmethod
    def _commit(body: bytes) -> tuple[list[str], int, str, str]:
        head, _, message = body.decode(errors="replace").partition("\n\n")
        parents, when, author = [], 0, ""
        for line in head.splitlines():
            key, _, value = line.partition(" ")
            if key == "parent":
                parents.append(value)
            elif key == "committer":
                when = int(value.rsplit(" ", 2)[1])
            elif key == "author":
                author = value.rsplit(" <", 1)[0]
        return parents, when, author, subject_of(message)

    async def tags(self) -> Any:
        names = self._tag_names()
        found = await self._objects([f"{n}^{{}}" for n in names])
        return sorted(
            (n.removeprefix("refs/tags/"), sha, self._commit(body)[3])
            for n, (sha, _, body) in zip(names, found, strict=True)
        )

    async def one_tag(self, name: str) -> Any:
        ((sha, _, body),) = await self._objects([f"refs/tags/{name}^{{}}"])
        return sha, self._commit(body)[3]

    async def _ancestors(self, start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            found = await self._objects(todo)
            todo = []
            for _, _, body in found:
                for parent in self._commit(body)[0]:
                    if parent not in seen:
                        seen.add(parent)
                        todo.append(parent)
        return seen

    async def range(self, head: str, base: str) -> Any:
        hidden = await self._ancestors(base)
        queue: list[tuple[int, str]] = []
        shown, count, seen = [], 0, {head}
        ((_, _, body),) = await self._objects([head])
        heapq.heappush(queue, (-self._commit(body)[1], head))
        bodies = {head: body}
        while queue:
            _, sha = heapq.heappop(queue)
            if sha in hidden:
                continue
            parents, _, author, subject = self._commit(bodies.pop(sha))
            if count < SHOWN:
                shown.append((sha, author, subject))
            count += 1
            fresh = [p for p in parents if p not in seen and p not in hidden]
            for (psha, _, pbody), p in zip(await self._objects(fresh), fresh, strict=True):
                seen.add(p)
                bodies[psha] = pbody
                heapq.heappush(queue, (-self._commit(pbody)[1], psha))
        return shown, count

    async def ahead_behind(self, left: str, right: str) -> Any:
        a, b = await self._ancestors(left), await self._ancestors(right)
        return len(a - b), len(b - a)
