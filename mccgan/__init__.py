"""mccgan: cloud-free Sentinel-2-like images from Sentinel-1 and an earlier Sentinel-2 (MCcGAN).

Following Xiong et al. (2021), *Remote Sensing* 13(8):1512: a conditional GAN whose generator
sees Sentinel-1 VV/VH at dates I and II and Sentinel-2 at date I and predicts Sentinel-2 at
date II. The package trains on ``senprep split`` datasets (it imports ``sen_preproc``; never
the reverse):

* :mod:`mccgan.networks` - the generator (16-layer U-Net) and discriminator (PatchGAN);
* :mod:`mccgan.registry` - model names, what each consumes and how it is built;
* :mod:`mccgan.data` - the torch dataset over ``sen_preproc.dataset.PatchDataset``;
* :mod:`mccgan.config` - the validated training configuration;
* :mod:`mccgan.training` - the Lightning module, callbacks, checkpoints, export;
* :mod:`mccgan.cli` - ``mccgan train``.
"""

__version__ = "0.1.0"

from mccgan.errors import MccganError

__all__ = ["MccganError", "__version__"]
