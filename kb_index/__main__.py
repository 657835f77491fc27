"""``python -m kb_index build|search|eval``."""

import sys

from .cli import main

sys.exit(main())
