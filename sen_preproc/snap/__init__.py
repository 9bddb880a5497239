"""The SNAP engine: GPT graph templates (``graphs/``), the operator catalogue and validator, and
the ``gpt`` runner. Only :mod:`sen_preproc.snap.gpt` starts subprocesses."""
