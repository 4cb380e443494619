"""The world as the loop reads it: tags from git, deploy history, quarantined commits,
requests pending approval, what each environment knows of a commit for promotion
(``soak``), the per-pair queues of plans waiting for a held pair (``queue``), evidence
(git, GitHub) for an approval request, read-only lookups, and the environment commands
(lock, unlock, where can I deploy), and what a turn reads to make a plan, in one round
trip. (The Slack App Home's reads are ``bot.shell.home``.) ``context`` is
the shell's shared dependencies (config, clock, limits, stores) as one frozen set, built
once by the wiring.

May import ``github``, ``lock``, ``streams``, ``store``, ``runtime``; never ``loop``, ``deploy``
or ``verify``.

Modules: ``context``, ``environments``, ``evidence``,
``gitcache``, ``gitcli``, ``gitrepo``, ``history``, ``lookups``, ``pending``,
``quarantine``, ``queue``, ``soak``, ``tags``, ``turn_reads``.
"""
