"""Quarantine decides on commits, not on tag names (a version is its commit). Pure.

A quarantine entry records the commit it bans (``Quarantined.sha``), so every other name
for that commit (``1.4.2`` beside ``v1.4.2``, ``release-2026-12``) is refused too, and a tag
moved to another commit after the quarantine is judged by its new commit.

Entries stored before commits were recorded carry only the tag name: they are resolved when
read (never rewritten), to the commits the deploy history recorded under that name and the
commit the name points at now; that bans at least what the name banned before.
"""

from collections.abc import Mapping, Sequence

from bot.core.thread.plan import DeployRecord, Quarantined, Tag

__all__ = ["banned_commits", "release_keys"]

_SHA_PREFIX_MIN = 7


def _commits_of(
    entry: Quarantined, *, tags: Sequence[Tag], history: Sequence[DeployRecord]
) -> set[str]:
    if entry.sha is not None:
        return {entry.sha}
    deployed = {r.sha for r in history if r.version == entry.version}
    named = {t.sha for t in tags if t.name == entry.version}
    return deployed | named


def banned_commits(
    entries: Mapping[str, Quarantined],
    *,
    tags: Sequence[Tag],
    history: Sequence[DeployRecord],
) -> dict[str, Quarantined]:
    """Commit sha -> the entry that quarantines it, for one service and environment.

    ``entries``: as stored (by commit, or by tag name for old entries); ``tags`` and
    ``history``: what resolves old entries' names (see the module docstring)."""
    banned: dict[str, Quarantined] = {}
    # Entries that know their commit first: their wording is the exact one.
    for entry in sorted(entries.values(), key=lambda e: e.sha is None):
        for sha in sorted(_commits_of(entry, tags=tags, history=history)):
            banned.setdefault(sha, entry)
    return banned


def release_keys(
    entries: Mapping[str, Quarantined],
    *,
    asked: str,
    tags: Sequence[Tag],
    history: Sequence[DeployRecord],
) -> tuple[list[str], str | None]:
    """The stored keys ``release SERVICE <asked> ...`` lifts, or (nothing, why not).

    ``asked`` names a commit by a tag (any alias of it: the commit is released, whatever name
    it was quarantined under), or by a commit sha (at least 7 characters). A tag that no
    longer exists matches the entries quarantined under that name. A tag that now points at
    a commit that is not quarantined releases nothing: the commit quarantined under that
    name stays quarantined (a moved tag must not lift it by accident).
    """
    tag = next((t for t in tags if t.name == asked), None)
    if tag is not None:
        wanted = {tag.sha}
    elif len(asked) >= _SHA_PREFIX_MIN and all(c in "0123456789abcdef" for c in asked.lower()):
        prefix = asked.lower()
        wanted = {
            sha
            for e in entries.values()
            for sha in _commits_of(e, tags=tags, history=history)
            if sha.startswith(prefix)
        }
    else:
        wanted = set()
    keys = [
        key
        for key, entry in entries.items()
        if _commits_of(entry, tags=tags, history=history) & wanted
    ]
    if not keys and tag is None:
        keys = [key for key, entry in entries.items() if entry.version == asked]
    if keys:
        return keys, None
    if tag is not None:
        moved_from = [e.sha for e in entries.values() if e.version == asked and e.sha]
        if moved_from:
            return [], (
                f"{asked} now points at {tag.sha[:7]}, which is not quarantined; commit "
                f"{moved_from[0][:7]}, quarantined as {asked}, stays quarantined."
            )
        return [], f"{asked} ({tag.sha[:7]}) is not quarantined."
    return [], f"{asked} is not quarantined."
