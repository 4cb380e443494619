"""Every sentence a person reads about a thread: messages built from plans, results and
threads, the evidence beside an approval request, a verification in words, the approval
card's fields, and redaction (``redact``) that keeps secrets out of all of them.
``freezes``: a deploy refused inside a freeze window, a broken glass, a frozen environment.
``quarantine``: why a commit is quarantined and what ``release`` answers; ``environments``:
``lock``/``unlock`` and a held pair in ``where``; ``deploys``: why a plan did not run, and a
recovered result's notes; ``set_aside``: an inbound entry set aside, and why; ``turns``: a
turn the worker stopped; ``refusals``: why policy refused; ``promotion``: where a version
stands in the environments before this one, and why it is not planned yet;
the bot drives came to (a command, git, GitHub, a check) is worded beside it, in
``bot.core.reports``.


Pure. The shell reports facts and never writes a sentence; channels render what this
package wrote. May import ``bot.core.thread``, ``config``, ``ports``; never ``policy`` or ``loop``.

Release policy (promotion, freezes, the queue's words, announcements) is
``bot.core.release``.

Modules: ``cards``, ``deploys``, ``environments``, ``evidence``, ``freezes``,
``messages``, ``promotion``, ``quarantine``, ``redact``, ``refusals``,
``secret_shapes``, ``set_aside``, ``turns``, ``verification``.
"""
