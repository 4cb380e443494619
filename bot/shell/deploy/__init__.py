"""Where a deploy runs: ``execution`` runs an approved plan write-ahead, exactly once, one at a
time (invariants 2-4): the lock taken with the pair's state read under it in the same round trip
(``under_lock``), the live-state re-check (``recheck``), the prior-run check, the lock
watched while the target runs (``watch``), and what the next worker does when a worker died
mid-deploy (``recovery``, ``interruption``). ``targets`` picks the command or GitHub deployer.
Release policy: ``release_gate`` checks freezes and promotion when a plan is made and again
under the lock; ``waiting`` puts a plan that finds its pair held in the pair's queue.

May import ``world``, ``process``, ``github``, ``lock``, ``streams``, ``store``, ``runtime``;
never ``loop`` or ``verify``.

Modules: ``execution``, ``interruption``, ``prior_runs``, ``recheck``, ``recovery``,
``release_gate``, ``targets``, ``under_lock``, ``waiting``, ``watch``.
"""
