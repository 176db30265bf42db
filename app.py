"""Start the web app: `python app.py [--host] [--port] [--index-dir] [--corpus] [--auth user:pass] [--insecure-no-auth]`.

The same as `python -m qa serve`: settings come from QA_* environment variables (see README),
then these flags; QA_AUTH keeps the password out of the process list. When the index folder
holds no index yet, one is built from the corpus first, with a progress bar.
"""

from __future__ import annotations

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
