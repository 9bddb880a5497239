"""Model names -> what each model consumes and how to build it.

A :class:`ModelSpec` says which inputs the model takes (keys of the data pipeline's items:
``s1_I``, ``s1_II``, ``s2_I``... - multi-temporal or mono-temporal, which sensors and dates)
and which target it predicts; the data pipeline (:mod:`mccgan.data`) feeds it exactly those, in
that order, concatenated as channels. The next releases add the paper's comparison models
(MTcGAN, DCSTFN-OS, RDCSTFN-OS, CycleGAN, S-CycleGAN, pix2pix) and non-learned baselines here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from mccgan.errors import ConfigError
from mccgan.networks import PatchDiscriminator, ResidualGenerator, UNetGenerator, init_weights

INPUT_CHANNELS = {"s1_I": "s1", "s1_II": "s1", "s2_I": "s2", "s1": "s1", "s2": "s2"}
"""Input keys and the sensor of each (the channel count follows the dataset's bands)."""


@dataclass(frozen=True)
class ModelSpec:
    """A model of the registry.

    Attributes
    ----------
    name : str
        Registry key (``--model``).
    inputs : tuple of str
        Item keys concatenated as the generator's input, in order.
    target : str
        Item key the model predicts.
    kind : str
        ``multi`` (multi-temporal samples) or ``mono``.
    adversarial : bool
        Trained with a discriminator (GAN + L1) rather than L1 alone.
    build_generator, build_discriminator : callable
        ``(in_channels, out_channels, **options) -> nn.Module``.
    description : str
        One line for ``--help`` and the model card.
    """

    name: str
    inputs: tuple[str, ...]
    target: str
    kind: str
    adversarial: bool
    build_generator: Callable[..., nn.Module]
    build_discriminator: Callable[..., nn.Module] | None
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)


def _unet(
    in_channels: int,
    out_channels: int,
    *,
    ngf: int,
    depth: int,
    norm: str,
    dropout: bool,
    residual: Mapping[str, Any] | None = None,
    **_: Any,
) -> nn.Module:
    core = init_weights(
        UNetGenerator(in_channels, out_channels, ngf=ngf, depth=depth, norm=norm, dropout=dropout)
    )
    if not residual:
        return core
    return ResidualGenerator(core, list(residual["channels"]), list(residual["scale"]),
                             list(residual["offset"]))  # fmt: skip


def _patchgan(in_channels: int, *, ndf: int, norm: str, **_: Any) -> nn.Module:
    return init_weights(PatchDiscriminator(in_channels, ndf=ndf, n_layers=3, norm=norm))


MODELS: dict[str, ModelSpec] = {
    "mccgan": ModelSpec(
        name="mccgan",
        inputs=("s1_I", "s1_II", "s2_I"),
        target="s2_II",
        kind="multi",
        adversarial=True,
        build_generator=_unet,
        build_discriminator=_patchgan,
        description="MCcGAN (Xiong et al. 2021): S1 I + S1 II + S2 I -> S2 II, U-Net + PatchGAN, GAN + λ·L1",
    ),
}
"""The registry (``--model`` choices)."""


def model_spec(name: str) -> ModelSpec:
    """The spec of ``name``; a clear error listing the models otherwise."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]
