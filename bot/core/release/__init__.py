"""Release policy (invariant 9), pure: promotion order and soak (``promotion``), freeze
windows and break glass (``freezes``), both as the one decision a plan is checked against
when it is made and again under the lock (``gate``: also who may cancel a wait), the words
of waiting in a pair's line (``queue_words``), and where a deploy is announced and in which
words (``announcements``, ``announcement_words``). The words of promotion and freezes that
other messages show (a card's override lines, ``where``'s freeze clause) stay in
``bot.core.wording``.

Above ``policy`` (it asks ``approval`` and ``verification``), below ``loop``. May import
``policy``, ``wording``, ``ports``, ``config``, ``thread``.

Modules: ``announcement_words``, ``announcements``, ``freezes``, ``gate``, ``promotion``,
``queue_words``.
"""
