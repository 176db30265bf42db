"""Reading archive files: decoding, every format, articles and paragraphs with metadata."""
