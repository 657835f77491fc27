"""``python -m kb_index build|search|eval``."""

import os
import sys

from .cli import main

# process start (not the package's import): passive OpenMP waiting before FAISS and torch
# load, unless the environment already chose (see kb_index/__init__.py)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.exit(main())
