"""Policy: code, never the model, decides. Who may approve and the quorum (``approval``,
``check_decision_on`` is the one check every edge asks), where an approval request is posted
and how its copies close, what a lock stops, whether the live state still matches a plan,
quarantine by commit, timers, whether a plan already ran, which deploy is live, verification
rounds and verdicts, and whether a newer deploy supersedes a verification. ``recovery``: what
a recovering worker may take as a dead worker's deploy result (the history, else the target).
``check_results``: one verification check's result from the facts the verifier observed;
``prometheus``: a Prometheus check's result from what its query answered.
``drift``: the re-check before a plan runs, its refusals in order and whether it is remade.

Pure functions over typed facts the shell returns. May import ``thread``, ``config``,
``wording``, ``ports``; never ``loop``.

Release policy (promotion, freezes, the queue's words, announcements) is
``bot.core.release``.

Modules: ``approval``, ``approval_posts``, ``check_results``, ``deploys``,
``drift``, ``live``, ``lock``, ``prior_run``, ``prometheus``,
``quarantine``, ``recovery``, ``supersession``, ``timers``, ``verification``.
"""
