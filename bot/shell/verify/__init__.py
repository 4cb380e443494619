"""Verification after a deploy: the turn that verifies a version just deployed
(``after_deploy``), its checks run in rounds (``checks``: HTTP, Prometheus, a command), how
the rounds are paced (``timings``) and a Prometheus answer read as a verdict
(``prometheus``). Verdicts are decided by ``bot.core.policy.verification``.

May import ``world``, ``process``, ``streams``, ``store``, ``runtime``; never ``loop`` or
``deploy``.

Modules: ``after_deploy``, ``checks``, ``prometheus``, ``timings``.
"""
