"""Customer segments on the workspace: inputs, fit, descriptions, runs, extension and actions."""
