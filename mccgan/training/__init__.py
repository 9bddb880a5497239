"""Training on PyTorch Lightning: :mod:`~mccgan.training.module` (the GAN step),
:mod:`~mccgan.training.callbacks`, :mod:`~mccgan.training.checkpoint_io` (checkpoint files),
:mod:`~mccgan.training.run` (``mccgan train``) and :mod:`~mccgan.training.export`
(``model.pt``)."""
