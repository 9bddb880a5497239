"""Property-based tests (hypothesis) of the parsers and the arithmetic every run relies on:

* the SAFE annotation / calibration / noise / manifest parsers and the Sentinel-2 MTD parser
  give a valid result or one clean ``SenPrepError`` for any mutation of a real-layout file
  (values replaced by arbitrary text, elements removed, the file cut anywhere);
* LUT interpolation is exact at the vectors' nodes, a convex combination in between and
  constant beyond the edges;
* patch grids, split bands, fusion tiles and their blending weights cover what they must.
"""

from __future__ import annotations

import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from mccgan.fusion.tiling import blend_window, tile_starts
from sen_preproc.dataset.tiling import SplitSpec, assign_split, patch_grid, split_boundaries
from sen_preproc.errors import SenPrepError
from sen_preproc.sentinel1 import product as s1_product
from sen_preproc.sentinel1.luts import LutGrid
from sen_preproc.sentinel2 import product as s2_product
from sen_preproc.testing.s1_factory import S1ProductSpec, write_s1_grd_product
from sen_preproc.testing.s2_factory import write_s2_product

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --------------------------------------------------------------------------- XML mutations

ODD_VALUES = ["", "nan", "inf", "-inf", "1e999", "-0", "0x10", "1,5", "  7 ", "NaT",
              "2021-13-45T25:61:00", "9" * 40, "abc def", "&amp;", "<b>"]  # fmt: skip
ODD_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12),
    st.sampled_from(ODD_VALUES),
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, int, Any]:
    """``(kind, index, payload)``: replace the text of the index-th element, remove the
    index-th element, or cut the file at a fraction."""
    kind = draw(st.sampled_from(["text", "remove", "cut"]))
    index = draw(st.integers(min_value=0, max_value=10_000))
    if kind == "text":
        return kind, index, draw(ODD_TEXT)
    if kind == "cut":
        return kind, index, draw(st.floats(min_value=0.0, max_value=0.999))
    return kind, index, None


def mutate(original: bytes, mutation: tuple[str, int, Any]) -> bytes:
    kind, index, payload = mutation
    if kind == "cut":
        return original[: int(len(original) * payload)]
    root = etree.fromstring(original)
    elements = [e for e in root.iter() if isinstance(e.tag, str)][1:]
    if kind == "text":
        leaves = [e for e in elements if len(e) == 0]
        leaves[index % len(leaves)].text = payload
    else:
        victim = elements[index % len(elements)]
        parent = victim.getparent()
        assert parent is not None
        parent.remove(victim)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@pytest.fixture(scope="module")
def s1_safe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_s1_grd_product(
        tmp_path_factory.mktemp("prop-s1"), S1ProductSpec(lines=60, samples=80, seed=9)
    )


def _s1_file(safe: Path, kind: str) -> Path:
    if kind == "manifest":
        return safe / "manifest.safe"
    if kind == "annotation":
        return next((safe / "annotation").glob("s1*-vv-*.xml"))
    return next((safe / "annotation" / "calibration").glob(f"{kind}-*-vv-*.xml"))


@pytest.mark.parametrize("kind", ["manifest", "annotation", "calibration", "noise"])
@settings(SETTINGS, max_examples=25)  # each example parses a product (~0.3 s)
@given(mutation=mutations())
def test_s1_parsers_give_a_result_or_a_clean_error(
    s1_safe: Path, tmp_path: Path, kind: str, mutation: tuple[str, int, Any]
) -> None:
    copy = tmp_path / "p" / s1_safe.name
    if not copy.exists():
        shutil.copytree(s1_safe, copy, ignore=shutil.ignore_patterns("*.tiff"))
    target = _s1_file(copy, kind)
    original = _s1_file(s1_safe, kind).read_bytes()
    target.write_bytes(mutate(original, mutation))
    try:
        product = s1_product.open_product(copy)
        metadata = s1_product.read_metadata(product, "VV")
    except SenPrepError as err:
        assert "\n" not in str(err) and str(copy) in str(err)
        return
    finally:
        target.write_bytes(original)
    # a result: it must be a usable one
    assert metadata.image.lines >= 2 and metadata.image.samples >= 2
    assert np.all(np.isfinite(metadata.geolocation.latitude_deg))
    for lut in metadata.calibration.values():
        assert all(np.all(np.isfinite(v)) for v in lut.values)


@pytest.fixture(scope="module")
def s2_mtd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], bytes]:
    safe = write_s2_product(tmp_path_factory.mktemp("prop-s2"))
    names = [p.relative_to(safe).as_posix() for p in safe.rglob("*") if p.is_file()]
    return safe, names, (safe / "MTD_MSIL2A.xml").read_bytes()


@SETTINGS
@given(mutation=mutations())
def test_s2_mtd_parser_gives_a_result_or_a_clean_error(
    s2_mtd: tuple[Path, list[str], bytes], mutation: tuple[str, int, Any]
) -> None:
    safe, names, original = s2_mtd
    document = mutate(original, mutation)

    def read(name: str) -> bytes:
        return document if name == "MTD_MSIL2A.xml" else (safe / name).read_bytes()

    try:
        parsed = s2_product._parse_safe(safe, read, names, f"{safe}/", "")
    except SenPrepError as err:
        assert "\n" not in str(err) and str(safe) in str(err)
        return
    assert parsed.quantification > 0 and np.isfinite(parsed.quantification)
    assert all(np.isfinite(v) for v in parsed.offsets.values())


# --------------------------------------------------------------------------- LUTs


@st.composite
def luts(draw: st.DrawFn) -> LutGrid:
    n_vectors = draw(st.integers(1, 5))
    lines = np.cumsum(draw(st.lists(st.integers(1, 400), min_size=n_vectors, max_size=n_vectors)))
    pixels, values = [], []
    for _ in range(n_vectors):
        n = draw(st.integers(1, 6))
        steps = draw(st.lists(st.integers(1, 500), min_size=n, max_size=n))
        pixels.append(np.cumsum(steps).astype(np.float64))
        values.append(np.array(draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n))))
    return LutGrid(lines.astype(np.int64), tuple(pixels), tuple(values), "test")


@SETTINGS
@given(lut=luts(), rows=st.lists(st.floats(-1000, 3000), min_size=1, max_size=8),
       cols=st.lists(st.floats(-1000, 4000), min_size=1, max_size=8))  # fmt: skip
def test_lut_interpolation_properties(lut: LutGrid, rows: list[float], cols: list[float]) -> None:
    result = lut.interpolate(rows, cols)
    assert result.shape == (len(rows), len(cols)) and np.all(np.isfinite(result))
    low = min(float(v.min()) for v in lut.values)
    high = max(float(v.max()) for v in lut.values)
    assert np.all(result >= low - 1e-6 * max(1, abs(low)))  # a convex combination
    assert np.all(result <= high + 1e-6 * max(1, abs(high)))
    # exact at every vector's nodes
    for k, line in enumerate(lut.lines):
        at_nodes = lut.interpolate([float(line)], lut.pixels[k])
        np.testing.assert_allclose(at_nodes[0], lut.values[k], rtol=1e-12, atol=1e-9)
    # constant beyond the first and last vectors
    before = lut.interpolate([float(lut.lines[0]) - 500.0], cols)
    np.testing.assert_allclose(before, lut.interpolate([float(lut.lines[0])], cols))


@SETTINGS
@given(lines=st.lists(st.integers(0, 50), min_size=2, max_size=5))
def test_lut_lines_out_of_order_are_refused(lines: list[int]) -> None:
    assume(any(b <= a for a, b in pairwise(lines)))
    one = np.array([1.0])
    with pytest.raises(SenPrepError, match="not strictly increasing"):
        LutGrid(np.array(lines), tuple(one for _ in lines), tuple(one for _ in lines), "test")


# --------------------------------------------------------------------------- tiling


@SETTINGS
@given(height=st.integers(0, 600), width=st.integers(0, 600), size=st.integers(1, 300),
       stride=st.integers(1, 300))  # fmt: skip
def test_patch_grid_properties(height: int, width: int, size: int, stride: int) -> None:
    patches = patch_grid(height, width, size, stride)
    for p in patches:
        assert 0 <= p.row and p.row + size <= height and 0 <= p.col and p.col + size <= width
        assert p.row % stride == 0 and p.col % stride == 0
    # maximal: one more stride would leave the image
    rows = {p.row for p in patches}
    if patches:
        assert max(rows) + stride + size > height
    else:
        assert height < size or width < size


@SETTINGS
@given(length=st.integers(1, 5000), a=st.floats(0, 1), b=st.floats(0, 1),
       align=st.integers(1, 256))  # fmt: skip
def test_split_bands_are_ordered_and_aligned(length: int, a: float, b: float, align: int) -> None:
    assume(a + b <= 1.0)
    bounds = split_boundaries(length, (a, b, 1.0 - a - b), align)
    assert bounds[0] == 0 and bounds[3] == length
    assert all(x <= y for x, y in pairwise(bounds))
    assert all(x % align == 0 or x == length for x in bounds[1:3])


@SETTINGS
@given(height=st.integers(32, 300), size=st.integers(8, 64), stride=st.integers(4, 64),
       a=st.floats(0.05, 0.9))  # fmt: skip
def test_split_never_puts_a_patch_in_two_bands(
    height: int, size: int, stride: int, a: float
) -> None:
    spec = SplitSpec(axis="rows", fractions=(a, 1.0 - a, 0.0), align_px=stride)
    bounds = split_boundaries(height, spec.fractions, stride)
    for patch in patch_grid(height, 40, size, stride):
        name = assign_split(patch, height, 40, spec)
        if name == "train":
            assert patch.row + size <= bounds[1]
        elif name == "val":
            assert patch.row >= bounds[1]


@SETTINGS
@given(length=st.integers(1, 5000), tile=st.integers(1, 512), data=st.data())
def test_fusion_tiles_cover_the_scene(length: int, tile: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, tile - 1))
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts == sorted(set(starts))
    if length <= tile:
        assert starts == [0]
        return
    assert starts[-1] + tile == length  # the last tile ends at the edge
    for left, right in pairwise(starts):
        assert right - left <= tile - overlap  # neighbours overlap by at least overlap px
    weights = blend_window(tile, overlap)
    assert weights.shape == (tile,) and np.all(weights > 0) and np.all(weights <= 1)
    total = np.zeros(length)
    for start in starts:
        total[start : start + tile] += weights
    assert np.all(total > 0)  # every pixel gets a non-zero weight: normalising is safe
