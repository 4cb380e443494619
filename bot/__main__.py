"""``python -m bot`` is the ``deploybot`` command."""

import sys

from bot.cli import main

sys.exit(main())
