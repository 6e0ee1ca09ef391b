"""Item recommendations: ALS on orders, text-based for reviewers, evaluation and stored runs."""
