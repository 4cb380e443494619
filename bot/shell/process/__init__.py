"""Processes the bot runs: the command deployer, the supervisor program between a worker and
a command (stdlib only, it runs with the command's environment), the worker's side of its
protocol (``supervisor_link``), the accounts commands run as (``users``), the output tail and
the deploy command's argv and variables.

May import ``runtime`` and the core; nothing else of the shell.

Modules: ``command_deployer``, ``deploy_command``, ``outputtail``, ``proctree``,
``supervisor``, ``supervisor_link``, ``users``.
"""
