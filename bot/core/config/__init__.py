"""The config file as values: people, environments, services and their targets, routes, who a
command runs as (``principal``), the environment a command gets (``childenv``) and freeze
windows (``freeze``).

Pure: the file is read by the shell (``bot.shell.world.config_file``) and parsed here. May import
``bot.core.thread`` and ``bot.core.errors``, nothing above.

Modules: ``childenv``, ``config``, ``environment``, ``freeze``, ``principal``, ``route``,
``service``.
"""
