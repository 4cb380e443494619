"""The Slack App Home: the board a person sees on opening the bot's Home tab (``view``:
Block Kit from the board, with the same approve/reject buttons as a card; ``lines``: the
words of each row), published with ``views.publish`` when the tab is opened
(``publish``), and published again, debounced and paced, when something a viewer sees
changes (``refresh``).

Part of the Slack channel: reaches the rest only through the core's ports.

Modules: ``lines``, ``publish``, ``refresh``, ``view``.
"""
