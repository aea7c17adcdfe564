"""``python -m srbench.cli``: the same as the ``srbench`` command."""
import sys

from srbench.cli import main

sys.exit(main())
