"""Processes the bot runs: the command deployer, the supervisor between a worker and each
command (stdlib only: the supervisor server that forks one per command), the worker's side
of them (``supervisor_link``, ``forkserver``, ``forked``), the accounts commands run as
(``users``), the output tail and the deploy command's argv and variables.

May import ``runtime`` and the core; nothing else of the shell.

Modules: ``command_deployer``, ``deploy_command``, ``forked``, ``forkserver``, ``outputtail``,
``proctree``, ``supervisor``, ``supervisor_link``, ``supervisor_server``, ``users``.
"""
