"""What the tests and the benchmarks share (as Haystack's `haystack.testing`): a fake embedder,
the headless browser's settings, newspaper pages printed from text, and sample texts. Nothing
else in `qa` imports this package."""
