"""Every port a channel reaches the rest of deploybot through, in one frozen set built
by the wiring (``bot.shell.streams.channel_ports.channel_ports``) and passed whole.
"""

from dataclasses import dataclass

from bot.core.ports.audit import Refusals, SetAsideLog
from bot.core.ports.channel_state import MailState, SlackState
from bot.core.ports.inbound import Inbound
from bot.core.ports.outbox import Notices, Replies
from bot.core.ports.threads import Threads

__all__ = ["ChannelPorts"]


@dataclass(frozen=True, kw_only=True)
class ChannelPorts:
    inbound: Inbound  # publish an inbound event
    threads: Threads  # read a thread, start one
    notices: Notices  # queue a notice the channel itself sends
    replies: Replies  # the terminal's own replies
    set_aside: SetAsideLog  # inputs the channel could not handle
    refusals: Refusals  # emails our mail servers did not vouch for
    slack: SlackState  # what Slack remembers
    mail: MailState  # what the mail channel remembers
