"""``python -m bot`` is the ``deploybot`` command."""

import sys

from bot.app.cli import main

sys.exit(main())
