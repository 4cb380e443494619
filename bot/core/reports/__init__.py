"""What the tools the bot drives came to, in words: the shell runs a deploy command, git,
GitHub or a verification check and reports typed facts; these pure functions word them.
``command_run``: why a deploy command could not run, and the notes below its output;
``git_runs``: why asking git failed; ``lineage``: why git or GitHub cannot say how two
commits relate; ``evidence_notes``: why an approval's evidence is short of something;
``workflow_runs``: what GitHub answered, a dispatch that started nothing or may have started
a run, a cancel asked, what a run came to; ``check_results``: why one verification check is
not healthy; ``deploy_watch``: why a running deploy's lock could not be kept.

The sentences about a thread itself are ``bot.core.wording``'s. Pure; may import only
``bot.core.thread`` (a sibling of ``wording`` in the core's layers: neither imports the other).

Modules: ``check_results``, ``command_run``, ``deploy_watch``, ``evidence_notes``,
``git_runs``, ``lineage``, ``workflow_runs``.
"""
