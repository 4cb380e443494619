"""The small agents: each an owned prompt, a closed set of intents and ``decide(thread)``.

``deploy.DeployAgent`` and ``rollback.RollbackAgent`` ask Claude through
``planner.ClaudePlanner``; ``fallback.CommandsOnlyAgent`` stands in when there is no
ANTHROPIC_API_KEY. The wiring (``bot.app.bootstrap``) builds them. Nothing is imported here, so
``agents.render`` stays cheap to import.
"""
