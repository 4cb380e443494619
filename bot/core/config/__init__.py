"""The config file as values: people, environments, services and their targets, routes, who a
command runs as (``principal``) and the environment a command gets (``childenv``).

Pure: the file is read by the shell (``bot.shell.world.config_file``) and parsed here. May import
``bot.core.thread`` and ``bot.core.errors``, nothing above.

Modules: ``childenv``, ``config``, ``environment``, ``principal``, ``route``, ``service``.
"""
