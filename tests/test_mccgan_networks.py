"""MCcGAN's networks: layer and parameter counts, shapes, receptive field, the registry."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from mccgan.errors import ConfigError  # noqa: E402
from mccgan.networks import (  # noqa: E402
    PatchDiscriminator,
    UNetGenerator,
    count_parameters,
    init_weights,
    receptive_field_px,
)
from mccgan.registry import MODELS, model_spec  # noqa: E402


def layers(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


def test_generator_is_the_16_layer_unet() -> None:
    g = UNetGenerator(3, 3)
    assert count_parameters(g) == 54_413_955  # pix2pix's unet_256, 3 -> 3 at ngf = 64
    down, up = layers(g, nn.Conv2d), layers(g, nn.ConvTranspose2d)
    assert len(down) == 8 and len(up) == 8
    assert [c.out_channels for c in down] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in down + up)
    assert [c.out_channels for c in up] == [512, 512, 512, 512, 256, 128, 64, 3]  # innermost first
    # batch norm after every down-convolution but the first and the innermost, after every
    # up-convolution but the last: 6 + 7
    assert len(layers(g, nn.BatchNorm2d)) == 13
    assert len(layers(g, nn.Dropout)) == 3 and all(d.p == 0.5 for d in layers(g, nn.Dropout))
    assert len(layers(g, nn.Tanh)) == 1
    assert all(c.bias is None for c in down[1:])  # absorbed by batch norm
    # MCcGAN's input: S1 I (2) + S1 II (2) + S2 I (4) -> S2 II (4)
    mcc = UNetGenerator(8, 4)
    # 5 more input channels into the first 4 x 4 x 64 convolution, 1 more output channel of the
    # last 4 x 4 transposed convolution from 128 channels (with its bias)
    assert count_parameters(mcc) == 54_413_955 + 5 * 64 * 16 + (128 * 16 + 1)


def test_generator_shapes_and_padding() -> None:
    g = UNetGenerator(8, 4, ngf=8).eval()
    with torch.no_grad():
        assert g(torch.zeros(2, 8, 256, 256)).shape == (2, 4, 256, 256)
        assert g(torch.zeros(1, 8, 37, 53)).shape == (1, 4, 37, 53)  # padded, cropped back
        assert g(torch.zeros(1, 8, 300, 300)).shape == (1, 4, 300, 300)
        out = g(torch.randn(1, 8, 64, 64))
    assert out.abs().max() <= 1.0  # Tanh
    shallow = UNetGenerator(8, 4, ngf=8, depth=6, norm="instance")
    assert len(layers(shallow, nn.Conv2d)) == 6 and not layers(shallow, nn.BatchNorm2d)
    with pytest.raises(ValueError, match="unknown norm"):
        UNetGenerator(8, 4, norm="group")


def test_discriminator_is_the_70px_patchgan() -> None:
    d = PatchDiscriminator(6)
    assert count_parameters(d) == 2_768_705
    convs = layers(d, nn.Conv2d)
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert receptive_field_px() == 70
    assert d(torch.zeros(1, 6, 256, 256)).shape == (1, 1, 30, 30)
    # measured: the input pixels one output logit depends on span 70 x 70
    small = init_weights(PatchDiscriminator(1, ndf=4)).eval()  # running statistics: local
    x = torch.randn(1, 1, 128, 128, requires_grad=True)
    small(x)[0, 0, 6, 6].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
    assert int(rows[-1] - rows[0] + 1) == 70 and int(cols[-1] - cols[0] + 1) == 70


def test_initialisation_is_normal_002() -> None:
    torch.manual_seed(0)
    g = init_weights(UNetGenerator(8, 4, ngf=16))
    weights = torch.cat([c.weight.detach().flatten() for c in layers(g, nn.Conv2d)])
    assert abs(float(weights.mean())) < 1e-3 and abs(float(weights.std()) - 0.02) < 1e-3
    norms = torch.cat([n.weight.detach().flatten() for n in layers(g, nn.BatchNorm2d)])
    assert abs(float(norms.mean()) - 1.0) < 5e-3


def test_registry_declares_inputs() -> None:
    spec = model_spec("mccgan")
    assert spec.inputs == ("s1_I", "s1_II", "s2_I") and spec.target == "s2_II"
    assert spec.kind == "multi" and spec.adversarial and "mccgan" in MODELS
    g = spec.build_generator(8, 4, ngf=8, depth=6, norm="batch", dropout=True)
    assert isinstance(g, UNetGenerator)
    with pytest.raises(ConfigError, match="unknown model 'pix3pix'"):
        model_spec("pix3pix")
