"""A thread stored by older code with an actor today's edges refuse (a terminal user name
with a space) loads through the real ThreadStore on a real Redis, is answered, saved and
loaded again unchanged; the stored bytes are what that older code wrote (format z2)."""

from redis.asyncio import Redis

from bot.core.thread.events import MessageSent, UserMessage
from bot.core.thread.text.actor import Actor
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from tests.unit.shell.store.test_stored_actors import AT, said, stored


async def test_an_old_thread_with_a_spaced_terminal_user_loads_and_saves_again(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    # The store's value: "<version>|" then the codec's bytes.
    await redis.set(keys.thread("t-old"), b"1|" + stored([said("terminal:Jane Doe")]))
    store = ThreadStore(redis=redis, keys=keys)
    thread = await store.load("t-old")
    assert thread is not None
    [asked] = thread.events
    assert isinstance(asked, UserMessage)
    assert isinstance(asked.actor, Actor)
    assert (asked.actor.channel, asked.actor.id) == ("terminal", "Jane Doe")
    reply = MessageSent(id="m1", at=AT, text="Deploying.", to=asked.actor)  # type: ignore[arg-type]
    thread.events.append(reply)
    await store.save(thread)
    again = await store.load("t-old")
    assert again is not None
    assert again.events == [asked, reply]
    assert again.events[1].to == "terminal:Jane Doe"  # type: ignore[union-attr]
