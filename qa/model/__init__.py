"""The embedding model: weight files, ONNX graphs, embedders, the sentence-transformers export."""
