"""Open themes in review text: theme runs and their extension after new reviews."""
