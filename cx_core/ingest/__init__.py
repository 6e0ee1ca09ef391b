"""Getting data in: file readers, column mapping, typing, validation and the one-transaction load, PII, uploads, datasets, the demo store."""
