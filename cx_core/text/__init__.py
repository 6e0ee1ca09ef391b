"""Text embeddings: the local transformer encoder and the embedding cache in the workspace."""
