"""What the core needs from the outside, and what channels and agents reach the rest through,
as Protocols (structural: the implementer inherits nothing; the wiring hands it in):

- ``agent``: an agent that chooses the next intent (``agents``);
- ``outbound``: a channel that delivers a message (``Sender``, the channels' deliverers);
- ``inbound``: the inbound stream a channel publishes an ``Envelope`` to;
- ``threads``: the threads a channel reads, or starts with their first event;
- ``outbox``: a notice a channel queues itself, the terminal's own replies;
- ``audit``: inputs set aside and emails refused, recorded for the audit and /metrics;
- ``health``: how a channel's long-running loop is doing;
- ``channel_state``: a channel's own small state (Slack's posted messages and followed
  threads, the mailbox's progress and the email copies sent), in typed records;
- ``channel_ports``: all of a channel's ports in one frozen set, passed whole;
- ``board``: what the Slack App Home shows (typed facts) and the port that reads it;
- ``home``: who opened the App Home lately, and whether the board changed.

The shell implements them (``bot.shell.streams``, ``bot.shell.store.channel_state``,
``bot.shell.runtime.tasks``, ``bot.shell.world``). Channels and agents import nothing from
the shell.
Pure; imports only ``bot.core.thread``.

Modules: ``agent``, ``audit``, ``board``, ``channel_ports``, ``channel_state``, ``health``,
``home``, ``inbound``, ``outbound``, ``outbox``, ``threads``.
"""
