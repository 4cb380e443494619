"""What a thread is made of: the events (append-only, frozen facts), the thread folded from
them (``derived.status``: status is derived, never stored), the plan a human approves and
its hash, the intents an agent may choose, where a thread came from (``origin``), outside text
held as data (``text.outside``), a deploy's result and the audit trail read from a thread; the
approval card a request message carries (``approval_card``); who acted (``text.actor``); the one
quorum count (``derived.quorum``);
why policy refused, as data (``refusals``); the events of approval (``approval_events``) and
of release policy (``release_events``: waits and the queue), on their common base
(``event_base``), all in the one union of ``events``.

The floor of the core: it imports nothing else of ``bot`` but ``bot.core.errors`` and
``bot.core.reading`` (the words a card asks for).

Packages: ``derived`` (status, quorum), ``text`` (actor, outside).

Modules: ``approval_card``, ``approval_events``, ``audit``, ``deploy_result``,
``event_base``, ``events``, ``intents``, ``origin``, ``plan``, ``refusals``,
``release_events``, ``set_aside``, ``thread``.
"""
