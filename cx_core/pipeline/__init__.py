"""Stages and the batch: what runs in which order, with fingerprints that skip unchanged work."""
