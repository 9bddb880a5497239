"""GPT graph templates (XML) for senprep's SNAP engine.

Installed as the package ``sen_preproc.graphs`` (``package_dir`` in setup.cfg maps it to the
repository's top-level ``graphs/`` folder); read them with
:func:`sen_preproc.snap.render.template_text` or :func:`sen_preproc.snap.render.load_template`.
Every user- or product-dependent value is a ``${name}`` variable; optional nodes are removed
by :mod:`sen_preproc.snap.render`, which also adapts the graphs to the SNAP version.
"""
