"""``python -m compsim.validate SCRIPT``: the same as ``compsim validate SCRIPT``."""
import sys

from .script import main

sys.exit(main())
