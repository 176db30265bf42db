"""From a question to a cited answer: the pipeline, agreement and confidence, explanation, citation."""
