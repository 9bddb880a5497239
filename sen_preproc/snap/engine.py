"""The SNAP engine of ``senprep s1|s2 --engine snap``: render the graph, run gpt, post-process.

The product is checked with the same readers as the Python engine (so a bad input fails before
Java starts, with the same one-line messages), the graph of :mod:`sen_preproc.snap.render` is
rendered for the detected SNAP version and validated, gpt runs on it (:mod:`sen_preproc.snap.gpt`,
its full log kept beside the output as ``<out>.gpt.log``), and gpt's GeoTIFF is rewritten into
the Python engine's conventions - band names ``VV``/``VH`` or ``B2``..``valid``, nodata NaN/0,
uint16 reflectance x 10 000, the same tags plus ``ENGINE=snap`` and ``SNAP_VERSION`` - so
``senprep pair`` takes either engine's output. ``--like`` is honoured by resampling gpt's output
onto that grid (bilinear, in linear power for dB).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from sen_preproc import __version__
from sen_preproc.archives import verify_whole_zip
from sen_preproc.bands import VALID_BAND
from sen_preproc.errors import GptError, MissingDataError, OptionError, OrbitError, ProductError
from sen_preproc.grid import RasterGrid, parse_aoi
from sen_preproc.interrupts import remove_stale_temporaries, temporary_path
from sen_preproc.outputs import GRAPH_HEADER, check_output_file, resolve_output
from sen_preproc.progress import NO_PROGRESS, Progress, track
from sen_preproc.raster_io import (
    GeoTiffWriter,
    read_band_names,
    read_grid,
)
from sen_preproc.snap import gpt as gpt_runner
from sen_preproc.snap.auxdata import orbit_file_destination, place_orbit_file
from sen_preproc.snap.catalogue import Catalogue, catalogue_for
from sen_preproc.snap.graph import intermediate_paths, split_graph
from sen_preproc.snap.install import GptInstall, find_gpt
from sen_preproc.snap.render import (
    S2_LEVEL_L2A,
    S2_LEVEL_SEN2COR,
    S2_LEVEL_TOA,
    CollocateOptions,
    RenderedGraph,
    S1GraphOptions,
    S2GraphOptions,
    render_s1,
    render_s2,
)
from sen_preproc.snap.snappy_catalogue import load_installed_catalogue
from sen_preproc.snap.validate import diff_catalogues
from sen_preproc.snap.version import SnapVersion

LOGGER = logging.getLogger(__name__)

DEFAULT_SNAP_VERSION = SnapVersion(10, 0, 0)  # rendering without gpt (`senprep graph`)
_S1_BAND = re.compile(r"^(?:Sigma0|Beta0|Gamma0)_(VV|VH|HH|HV)(?:_db)?$", re.IGNORECASE)
_SCL_BANDS = ("quality_scene_classification", "scl", "SCL")


@dataclass(frozen=True)
class SnapOptions:
    """How to run SNAP: ``--gpt``, ``--snap-version``, ``--gpt-cache``, ``--gpt-threads``,
    ``--timeout`` (seconds), ``--split-graph``."""

    gpt: Path | None = None
    snap_version: str | None = None
    cache_size: str | None = None
    parallelism: int | None = None
    timeout_s: float | None = None
    split_graph: bool = False


def snap_version_for(snap: SnapOptions, install: GptInstall | None) -> SnapVersion:
    """``--snap-version`` if given, else the installation's, else SNAP 10 (with a warning)."""
    if snap.snap_version:
        return SnapVersion.parse(snap.snap_version)
    if install is not None and install.version is not None:
        return install.version
    if install is not None:
        LOGGER.warning(
            "cannot tell the version of %s: rendering graphs for SNAP %s (--snap-version "
            "overrides)",
            install.path,
            DEFAULT_SNAP_VERSION,
        )
    return DEFAULT_SNAP_VERSION


def catalogue_for_run(version: SnapVersion) -> Catalogue:
    """The installation's own operator catalogue when ``esa_snappy`` is configured (differences
    from the built-in one are logged), else the built-in catalogue for ``version``."""
    builtin = catalogue_for(version)
    installed = load_installed_catalogue()
    if installed is None:
        return builtin
    for line in diff_catalogues(builtin, installed):
        LOGGER.warning("SNAP installation differs from senprep's catalogue: %s", line)
    return installed


def write_graph_file(
    rendered: RenderedGraph,
    out: Path,
    *,
    overwrite: bool = False,
    inputs: Iterable[Path | None] = (),
) -> Path:
    """Write the concrete graph (values substituted, XML-escaped) atomically to ``out``, opening
    with senprep's header comment (which lets ``--overwrite`` replace it later)."""
    check_output_file(out, overwrite=overwrite, inputs=inputs)
    if out.suffix.lower() != ".xml":
        raise OptionError(
            f"{out}: a graph file must end in .xml (gpt takes anything else for an operator)"
        )
    remove_stale_temporaries(out)
    tmp = temporary_path(out, "part")
    header = f"{GRAPH_HEADER} {__version__} (senprep graph) -->\n"
    try:
        tmp.write_text(header + rendered.concrete_xml(), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _aoi_wkt(aoi: str | None) -> str | None:
    return parse_aoi(aoi).wkt if aoi else None


def _s1_input(path: Path) -> Path:
    """What SNAP's reader opens: the zip, or the ``manifest.safe`` of a folder."""
    return path / "manifest.safe" if path.is_dir() else path


# ------------------------------------------------------------------------------ Sentinel-1


def s1_graph_options(config: Any, output: Path) -> S1GraphOptions:
    """The S1 graph for an :class:`sen_preproc.s1.S1Config` (same choices as the Python engine).

    The output CRS is the Python engine's (``--crs``, ``--like``'s, else the UTM zone of the
    scene centre), so both engines land in the same projection. Product, DEM and orbit file
    are resolved to absolute paths (gpt runs in another folder). With ``--orbit-file`` the
    graph's orbit type is the file's and the options name where SNAP looks for it.

    Raises
    ------
    OrbitError
        An orbit file that is missing, not ESA-named or does not cover the acquisition.
    """
    from sen_preproc.sentinel1.chain import check_s1_output_size, output_grid, resolve_dem_datum
    from sen_preproc.sentinel1.product import open_product, read_metadata

    config.validate()
    product = open_product(config.product)
    pols = product.require_polarisations(config.polarisations or product.polarisations)
    metadata = read_metadata(product, pols[0])
    grid = output_grid(config, metadata)
    check_s1_output_size(config, grid, metadata, len(pols), Path(output))
    orbit_file = orbit_destination = None
    if config.orbit_file is not None:
        orbit_file = Path(config.orbit_file).expanduser().resolve()
        if not orbit_file.is_file():
            raise OrbitError(
                f"{orbit_file}: orbit file not found; pass an existing .EOF (or zipped) file"
            )
        orbit_destination = orbit_file_destination(
            orbit_file, product.start_time.astype("datetime64[us]").item()
        )
    apply_egm = True
    if config.dem is not None:
        datum = resolve_dem_datum(read_grid(config.dem).crs, config.dem_datum)
        if not config.geoid or datum == "ellipsoid":
            apply_egm = False
        elif datum == "egm2008":
            LOGGER.warning(
                "SNAP converts only EGM96 heights: %s (EGM2008) is corrected with EGM96 "
                "(differences up to a few metres); use --engine python for EGM2008",
                config.dem,
            )
    pixel = abs(grid.transform.a)
    if grid.crs.is_geographic:
        pixel *= 111320.0  # degrees -> metres at the equator, as SNAP's pixelSpacingInMeter
    return S1GraphOptions(
        input=_s1_input(Path(config.product).resolve()),
        output=Path(output).resolve(),
        polarisations=pols,
        border_noise=config.border_noise,
        thermal_noise=config.thermal_noise,
        orbit_file=orbit_file,
        orbit_destination=orbit_destination,
        calibration=config.calibration,
        speckle=config.speckle,
        window_px=config.window_px,
        dem=Path(config.dem).resolve() if config.dem is not None else None,
        dem_apply_egm=apply_egm,
        pixel_size_m=pixel,
        crs=f"EPSG:{grid.crs.to_epsg()}" if grid.crs.to_epsg() else grid.crs.to_wkt(),
        aoi_wkt=_aoi_wkt(config.aoi),
        scale=config.scale,
    )


def process_s1_snap(config: Any, snap: SnapOptions, progress: Progress = NO_PROGRESS) -> Path:
    """``senprep s1 --engine snap``: run the GRD graph in gpt; returns the output path.

    Raises
    ------
    SenPrepError
        Bad product or options (before gpt starts), gpt not found, any gpt failure mapped to a
        one-line message (see :func:`sen_preproc.snap.gpt.run_gpt`). Nothing is left at the
        output path on failure; the gpt log is kept beside it.
    """
    from sen_preproc.sentinel1.chain import default_output_name, product_tags
    from sen_preproc.sentinel1.product import open_product

    config.validate()
    product = open_product(config.product)
    product.verify(product.require_polarisations(config.polarisations or product.polarisations))
    out = resolve_output(
        config.out, default_output_name(product, config), config.overwrite, config.inputs()
    )
    install = find_gpt(snap.gpt)
    version = snap_version_for(snap, install)
    with _scratch(out) as scratch:
        options = s1_graph_options(config, scratch / "gpt.tif")
        if config.orbit_file is not None:
            placed = place_orbit_file(
                Path(config.orbit_file),
                acquisition_time=product.start_time.astype("datetime64[us]").item(),
            )
            LOGGER.info("orbit file placed for SNAP: %s", placed)
        rendered = render_s1(options, version, catalogue=catalogue_for_run(version))
        _run(rendered, install, snap, scratch, out, progress)
        like = read_grid(config.like) if config.like is not None else None
        names = read_band_names(options.output)
        pols = options.polarisations
        bands = _match_s1_bands(names, pols, options.output)
        tags = product_tags(product) | {
            "CALIBRATION": config.calibration,
            "SCALE": config.scale,
            "ENGINE": "snap",
            "SNAP_VERSION": str(version),
            "GPT": str(install.path),
            "PROCESSING_STEPS": json.dumps(_steps(rendered)),
            "SENPREP_VERSION": __version__,
            "PROCESSING_TIME": _now(),
        }
        _rewrite(
            options.output,
            out,
            [(bands[p], p) for p in pols],
            like,
            tags,
            band_tags={
                p: {"POLARISATION": p, "UNITS": "dB" if config.scale == "db" else "linear"}
                for p in pols
            },
            db=config.scale == "db",
            overwrite=config.overwrite,
            inputs=config.inputs(),
            progress=progress,
        )
    LOGGER.info("wrote %s (SNAP %s)", out, version)
    return out


def _match_s1_bands(names: Sequence[str], pols: Sequence[str], path: Path) -> dict[str, int]:
    """1-based band index of each polarisation in gpt's output (``Sigma0_VV_db`` -> VV).

    Without band names (a writer that stored none) the polarisations are taken in the order
    SNAP's reader lists them, with a warning.
    """
    found: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        match = _S1_BAND.match(name or "")
        if match:
            found.setdefault(match.group(1).upper(), index)
    if not any(names) and len(names) == len(pols):
        LOGGER.warning("%s has no band names: assuming the order %s", path, ", ".join(pols))
        return {p: i for i, p in enumerate(pols, start=1)}
    missing = [p for p in pols if p not in found]
    if missing:
        raise GptError(
            f"{path}: gpt wrote bands {', '.join(n or '?' for n in names)} but no "
            f"{', '.join(missing)}; check the gpt log and --pol"
        )
    return found


# ------------------------------------------------------------------------------ Sentinel-2


def process_s2_snap(config: Any, snap: SnapOptions, progress: Progress = NO_PROGRESS) -> Path:
    """``senprep s2 --engine snap``: Resample, band subset, Reproject (and Sen2Cor for L1C with
    ``--atmcor sen2cor``) in gpt; the ``valid`` band is derived from the scene classification
    exactly as the Python engine does (an L1C without Sen2Cor: top-of-atmosphere reflectance,
    ``valid`` from no data alone, as the Python engine)."""
    from sen_preproc.bands import normalise_band
    from sen_preproc.sentinel2.chain import check_s2_output_size, default_output_name, output_tags
    from sen_preproc.sentinel2.product import open_s2

    config.validate()
    bands = tuple(normalise_band(b) for b in config.bands)
    product = open_s2(config.product)
    if product.kind != "safe":
        raise ProductError(
            f"{config.product}: SNAP reads Sentinel-2 SAFE products only (this is a "
            f"{product.kind}); use --engine python for band GeoTIFFs"
        )
    if product.level == "L1C" and config.atmcor != "sen2cor":
        LOGGER.warning(
            "%s is Level-1C: writing top-of-atmosphere reflectance; use --atmcor sen2cor",
            product.path,
        )
    level = s2_graph_level(product.level, config.atmcor)
    out = resolve_output(
        config.out, default_output_name(product, config), config.overwrite, config.inputs()
    )
    check_s2_output_size(config, product, out)
    if Path(config.product).is_file():  # gpt reads the zip itself: check every member first
        verify_whole_zip(Path(config.product))
    install = find_gpt(snap.gpt)
    version = snap_version_for(snap, install)
    with _scratch(out) as scratch:
        options = s2_graph_options(config, scratch / "gpt.tif", level)
        rendered = render_s2(options, version, catalogue=catalogue_for_run(version))
        _run(rendered, install, snap, scratch, out, progress)
        names = list(read_band_names(options.output))
        index = {n: i for i, n in enumerate(names, start=1) if n}
        missing = [b for b in bands if b not in index]
        scl = None  # an L1C at the top of the atmosphere has none (the graph asks for none)
        if level != S2_LEVEL_TOA:
            scl = next((index[n] for n in _SCL_BANDS if n in index), None)
        if missing:
            raise GptError(
                f"{options.output}: gpt wrote bands {', '.join(n or '?' for n in names)} but no "
                f"{', '.join(missing)}; check the gpt log and --bands"
            )
        like = read_grid(config.like) if config.like is not None else None
        tags = output_tags(product, config.dtype) | {
            "PROCESSING_LEVEL": "L2A" if level == S2_LEVEL_SEN2COR else product.level,
            "ENGINE": "snap",
            "SNAP_VERSION": str(version),
            "GPT": str(install.path),
            "PROCESSING_STEPS": json.dumps(_steps(rendered)),
        }
        _rewrite_s2(
            options.output,
            out,
            [(index[b], b) for b in bands],
            scl,
            config.invalid_scl,
            like,
            tags,
            expect_scl=level != S2_LEVEL_TOA,
            dtype=config.dtype,
            overwrite=config.overwrite,
            inputs=config.inputs(),
            progress=progress,
        )
    LOGGER.info("wrote %s (SNAP %s)", out, version)
    return out


def s2_graph_options(config: Any, output: Path, level: str) -> S2GraphOptions:
    """The S2 graph for an :class:`sen_preproc.s2.S2Config` (``--like`` gives the CRS;
    ``level`` from :func:`s2_graph_level`; the product path resolved)."""
    from sen_preproc.bands import normalise_band

    crs = config.crs
    if config.like is not None:
        like_crs = read_grid(config.like).crs
        crs = "EPSG:4326" if like_crs.to_epsg() == 4326 else like_crs.to_string()
    product = Path(config.product).resolve()
    return S2GraphOptions(
        input=product,
        output=Path(output).resolve(),
        level=level,
        bands=tuple(normalise_band(b) for b in config.bands),
        resolution_m=config.resolution_m,
        crs=crs,
        aoi_wkt=_aoi_wkt(config.aoi),
    )


def s2_graph_level(product_level: str, atmcor: str) -> str:
    """The S2 graph (:attr:`S2GraphOptions.level`) for a product of ``product_level`` and
    ``--atmcor``: Sen2Cor in gpt for an L1C with ``sen2cor``, top of atmosphere for an L1C
    without, else the L2A graph."""
    if product_level == "L1C":
        return S2_LEVEL_SEN2COR if atmcor == "sen2cor" else S2_LEVEL_TOA
    return S2_LEVEL_L2A


def render_graph(
    sensor: str, config: Any, target: Path | None, version: SnapVersion
) -> tuple[RenderedGraph, Path]:
    """The graph ``senprep graph s1|s2`` writes for ``config``, and the GeoTIFF its Write node
    writes (``target``, default: the name senprep would use, in the current folder).

    The graph's notes (where to place ``--orbit-file``: nothing is copied, the graph may run on
    another machine) are logged as warnings too."""
    if sensor == "s1":
        from sen_preproc.sentinel1.chain import default_output_name as s1_name
        from sen_preproc.sentinel1.product import open_product

        config.validate()
        target = (target or Path.cwd() / s1_name(open_product(config.product), config)).resolve()
        rendered = render_s1(s1_graph_options(config, target), version)
        for note in rendered.notes:
            LOGGER.warning("%s", note)
        return rendered, target
    from sen_preproc.sentinel2.chain import check_s2_output_size
    from sen_preproc.sentinel2.chain import default_output_name as s2_name
    from sen_preproc.sentinel2.product import open_s2

    config.validate()
    s2 = open_s2(config.product)
    level = s2_graph_level(s2.level, config.atmcor)
    if level == S2_LEVEL_TOA:
        LOGGER.warning(
            "%s is Level-1C: the graph writes top-of-atmosphere reflectance (no scene "
            "classification, no cloud mask); use --atmcor sen2cor",
            s2.path,
        )
    target = (target or Path.cwd() / s2_name(s2, config)).resolve()
    check_s2_output_size(config, s2, target)
    return render_s2(s2_graph_options(config, target, level), version), target


def collocate_options(
    reference: Path, secondary: Path, target: Path, resampling: str
) -> CollocateOptions:
    """The options of ``senprep graph collocate``, paths resolved.

    Raises
    ------
    MissingDataError
        When the reference or the secondary product does not exist.
    """
    for role, path in (("reference", reference), ("secondary", secondary)):
        if not Path(path).exists():
            raise MissingDataError(
                f"{path}: --{role} product not found; give an existing product file (e.g. "
                f"the GeoTIFF of `senprep s1`/`senprep s2`)"
            )
    return CollocateOptions(
        reference=Path(reference).resolve(),
        secondary=Path(secondary).resolve(),
        output=Path(target).resolve(),
        resampling=resampling,
    )


# ------------------------------------------------------------------------------ shared


@contextmanager
def _scratch(out: Path) -> Iterator[Path]:
    """A hidden scratch folder beside the output for gpt's GeoTIFF, removed afterwards."""
    import shutil

    remove_stale_temporaries(out)
    folder = temporary_path(out, "tmp", ".snap")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(
    rendered: RenderedGraph,
    install: GptInstall,
    snap: SnapOptions,
    scratch: Path,
    out: Path,
    progress: Progress,
) -> None:
    """Write the graph (template + ``-P`` values) and run gpt, in parts with ``--split-graph``."""
    output = Path(rendered.variables["output"])
    if snap.split_graph:
        parts = split_graph(rendered.graph, scratch)
        intermediates = intermediate_paths(parts)
    else:
        parts, intermediates = [rendered.graph], []
    files = []
    for number, part in enumerate(parts, start=1):
        graph_file = scratch / f"part{number}.xml"
        graph_file.write_text(part.to_xml(None))
        files.append(graph_file)
    gpt_runner.run_graph_parts(
        install,
        files,
        [{k: v for k, v in rendered.variables.items() if k in part.variables()} for part in parts],
        log_path=out.with_name(out.name + ".gpt.log"),
        intermediates=intermediates,
        expected_outputs=[output],
        cache_size=snap.cache_size,
        parallelism=snap.parallelism,
        timeout_s=snap.timeout_s,
        progress=progress,
    )


def _steps(rendered: RenderedGraph) -> list[dict[str, Any]]:
    """The graph's nodes as processing steps (operator + parameters, values substituted)."""
    steps: list[dict[str, Any]] = []
    for node in rendered.graph.nodes:
        params: dict[str, Any] = {}
        for name, value in node.parameters:
            if isinstance(value, str):
                for var, text in rendered.variables.items():
                    value = value.replace("${" + var + "}", text)
                params[name] = value
        steps.append({"step": node.operator, "node": node.id, "parameters": params})
    return steps


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rewrite(
    source: Path,
    out: Path,
    bands: list[tuple[int, str]],
    like: RasterGrid | None,
    tags: dict[str, str],
    *,
    band_tags: dict[str, dict[str, str]],
    db: bool,
    overwrite: bool,
    inputs: Iterable[Path | None],
    progress: Progress,
) -> None:
    """gpt's S1 GeoTIFF -> our float32 COG: bands renamed, SNAP's nodata 0 -> NaN, onto
    ``like`` when given (bilinear in linear power)."""
    from sen_preproc.pair import RasterInfo, read_on_grid

    grid = read_grid(source)
    target = like or grid
    info = RasterInfo(source, grid, tuple(n for _, n in bands), {}, 0.0, "float32")
    with GeoTiffWriter(
        out,
        target,
        [n for _, n in bands],
        tags=tags,
        band_tags=band_tags,
        overwrite=overwrite,
        inputs=inputs,
    ) as writer:
        for window in track(progress, list(target.blocks(2048)), "snap output", "block"):
            block = target.window_grid(window)
            layers = [
                read_on_grid(info, index, block, to_linear=db, categorical=False)
                for index, _ in bands
            ]
            writer.write(window, np.stack(layers))
        writer.commit()


def _rewrite_s2(
    source: Path,
    out: Path,
    bands: list[tuple[int, str]],
    scl_band: int | None,
    invalid_scl: Sequence[int],
    like: RasterGrid | None,
    tags: dict[str, str],
    *,
    expect_scl: bool = True,
    dtype: str,
    overwrite: bool,
    inputs: Iterable[Path | None],
    progress: Progress,
) -> None:
    """gpt's S2 GeoTIFF (reflectance 0..1, SCL) -> our GeoTIFF: uint16 x 10 000 (nodata 0) or
    float32, plus ``valid`` from the scene classification (without one: from no data alone;
    a warning when ``expect_scl``) and the cloud fraction, with the Python engine's radiometry
    (:mod:`sen_preproc.sentinel2.radiometry`)."""
    from sen_preproc.pair import RasterInfo, read_on_grid
    from sen_preproc.sentinel2.radiometry import CloudCounter, encode_output, validity

    grid = read_grid(source)
    target = like or grid
    info = RasterInfo(source, grid, tuple(n for _, n in bands), {}, None, "float32")
    clouds = CloudCounter()
    if scl_band is None and expect_scl:
        LOGGER.warning("%s has no scene classification band: clouds are not masked", source)
    with GeoTiffWriter(
        out,
        target,
        [n for _, n in bands] + [VALID_BAND],
        tags=tags,
        overwrite=overwrite,
        inputs=inputs,
        dtype=dtype,
        nodata=float("nan") if dtype == "float32" else 0,
    ) as writer:
        for window in track(progress, list(target.blocks(2048)), "snap output", "block"):
            block = target.window_grid(window)
            stack = np.stack(
                [read_on_grid(info, i, block, to_linear=False, categorical=False) for i, _ in bands]
            )
            stack[stack == 0] = np.nan  # SNAP's reader: 0 = no data
            scl = (
                read_on_grid(info, scl_band, block, to_linear=False, categorical=True)
                if scl_band is not None
                else None
            )
            data_ok = np.all(np.isfinite(stack), axis=0)
            valid = validity(data_ok, scl, invalid_scl)
            clouds.add(data_ok, valid)
            writer.write(window, encode_output(stack, valid, dtype))
        writer.tags["CLOUD_FRACTION"] = f"{clouds.fraction:.4f}"
        writer.commit()


__all__ = [
    "SnapOptions",
    "collocate_options",
    "process_s1_snap",
    "process_s2_snap",
    "render_graph",
    "s1_graph_options",
    "s2_graph_level",
    "s2_graph_options",
    "snap_version_for",
    "write_graph_file",
]
