"""What the bot reads from people and machines, before it is an event: the exact ChatOps
command grammar (the fast path, no model call), the configured names free text mentions
(``mentions``), the words that approve, reject or roll back (``vocabulary``), and how
deeply a JSON body nests (measured before it is parsed).

Pure and standalone: imports nothing else of ``bot``.

Modules: ``commands``, ``grammar``, ``json_shape``, ``mentions``, ``suffixes`` (what may
follow a deploy command: release policy's ``when ready``, ``skip soak``, ``break glass``),
``vocabulary``.
"""
