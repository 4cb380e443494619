"""What the Slack App Home shows, on the shell's side: ``board`` reads the board (every
service x environment: live, locks, freezes, queue, soak, quarantines, approvals waiting) in
a few round trips; ``home_viewers`` keeps who opened their Home tab lately and what they were
last shown; ``board_changes`` watches the outbox streams so open homes refresh off the
worker's turns.

May import ``world``, ``lock``, ``streams``, ``store``, ``runtime``; never ``loop``, ``deploy``
or ``verify``. Channels reach it through ``bot.core.ports.board`` and ``bot.core.ports.home``.

Modules: ``board``, ``board_changes``, ``home_viewers``.
"""
