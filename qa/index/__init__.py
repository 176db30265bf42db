"""The index: its build, its store on disk, BM25, vectors, and search over them."""
