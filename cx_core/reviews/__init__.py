"""Review intelligence: the aspect taxonomy, the multi-task scoring model, evaluation and scoring."""
