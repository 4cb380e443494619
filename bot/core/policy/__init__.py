"""Policy: code, never the model, decides. Who may approve and the quorum (``approval``,
``check_decision_on`` is the one check every edge asks), where an approval request is posted
and how its copies close, what a lock stops, whether the live state still matches a plan,
quarantine by commit, timers, whether a plan already ran, which deploy is live, verification
rounds and verdicts, and whether a newer deploy supersedes a verification. ``recovery``: what
a recovering worker may take as a dead worker's deploy result (the history, else the target).
``check_results``: one verification check's result from the facts the verifier observed;
``prometheus``: a Prometheus check's result from what its query answered.
``drift``: the re-check before a plan runs, its refusals in order and whether it is remade.
``freezes``: which freeze window holds an environment when, until when, and break glass.
``promotion``: promotion order and soak (what a version needs in earlier environments).
``release``: freezes and promotion as one decision, when a plan is made and before it runs.
``announcements``: where a deploy is announced, and which earlier announcement it replaces.

Pure functions over typed facts the shell returns. May import ``thread``, ``config``,
``wording``, ``ports``; never ``loop``.

Modules: ``announcements``, ``approval``, ``approval_posts``, ``check_results``, ``deploys``,
``drift``, ``freezes``, ``live``, ``lock``, ``prior_run``, ``promotion``, ``prometheus``,
``quarantine``, ``recovery``, ``release``, ``supersession``, ``timers``, ``verification``.
"""
