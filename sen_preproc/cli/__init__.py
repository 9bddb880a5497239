"""Command-line interface of senprep."""
