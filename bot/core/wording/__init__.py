"""Every sentence a person reads: messages built from plans, results and threads, the
evidence beside an approval request, a verification in words, the approval card's fields,
and redaction (``redact``) that keeps secrets out of all of them. ``quarantine``: why a commit
is quarantined and what ``release`` answers; ``environments``: ``lock``/``unlock`` and a held
pair in ``where``; ``deploys``: why a plan did not run, and a recovered result's notes.
``check_results``: why one verification check is not healthy. ``deploy_watch``: why a
running deploy's lock could not be kept; ``set_aside``: an inbound entry set aside, and why.
``turns``: a turn the worker stopped. ``refusals``: why policy refused.
``command_run``: why a deploy command could not run, and the notes below its output.
``evidence_notes``: why an approval's evidence is short of something; ``lineage``: why git or
GitHub cannot say how two commits relate; ``git_runs``: why asking git failed.
``workflow_runs``: what GitHub answered, a dispatch that started nothing or may have started
a run, a cancel asked, what a run came to.

Pure. The shell reports facts and never writes a sentence; channels render what this
package wrote. May import ``bot.core.thread``, ``config``, ``ports``; never ``policy`` or ``loop``.

Modules: ``cards``, ``check_results``, ``command_run``, ``deploy_watch``, ``deploys``,
``environments``, ``evidence``, ``evidence_notes``, ``git_runs``, ``lineage``, ``messages``,
``quarantine``, ``redact``, ``refusals``, ``secret_shapes``, ``set_aside``, ``turns``,
``verification``, ``workflow_runs``.
"""
