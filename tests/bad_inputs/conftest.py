"""The corpus's session fixture (defined in :mod:`corpus_inputs`, importable by the tests)."""

from bad_inputs.corpus_inputs import inputs

__all__ = ["inputs"]
