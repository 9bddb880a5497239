"""Open Sentinel-2 inputs: L2A/L1C SAFE products (zip or folder), folders of per-band
GeoTIFFs (Google Earth Engine, SSL4EO, BigEarthNet exports) and multi-band GeoTIFFs.

Only metadata is read here; pixels are read by :mod:`sen_preproc.sentinel2.chain`. Each band records where
its files are (one per native/resampled resolution) and the ESA radiometric convention that turns
its digital numbers into reflectance: ``reflectance = (DN + offset) / quantification``
(``BOA_ADD_OFFSET``/``BOA_QUANTIFICATION_VALUE`` for L2A, ``RADIO_ADD_OFFSET``/
``QUANTIFICATION_VALUE`` for L1C; baseline >= 04.00 has offset -1000, older none).
"""

from __future__ import annotations

import json
import logging
import math
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import rasterio
from lxml import etree
from rasterio.errors import RasterioIOError

from sen_preproc.bands import NATIVE_RESOLUTION_M, S2_BANDS, normalise_band
from sen_preproc.errors import MissingDataError, OptionError, ProductError

LOGGER = logging.getLogger(__name__)


def _product_band(code: str, source: Path | str) -> str:
    """A band name read from a product's files: canonical, or a ProductError naming the file."""
    try:
        return normalise_band(code)
    except OptionError as err:
        raise ProductError(f"{source}: {err}; the product metadata is damaged") from err


@dataclass(frozen=True)
class BandFile:
    """One raster holding a band at one resolution."""

    path: str  # GDAL path (``/vsizip/`` inside zips)
    resolution_m: float
    band_index: int = 1


@dataclass(frozen=True)
class S2Input:
    """An opened Sentinel-2 input (metadata only).

    Attributes
    ----------
    kind : str
        ``safe``, ``folder`` or ``geotiff``.
    level : str
        ``L2A``, ``L1C`` or ``unknown`` (GeoTIFF inputs without metadata).
    bands : dict
        Canonical band name -> files at each available resolution, finest first.
    offsets : dict
        Band -> additive DN offset (e.g. -1000 for baseline >= 04.00).
    quantification : float
        DN per unit reflectance (10000).
    scl : dict
        Resolution (m) -> GDAL path of the scene classification, when present.
    listed_bands : tuple of str
        Bands the metadata announces (some may be missing from a partial product).
    """

    path: Path
    kind: str
    product_id: str
    level: str
    mission: str
    sensing_time: str
    processing_baseline: str
    bands: dict[str, list[BandFile]]
    offsets: dict[str, float]
    quantification: float = 10000.0
    scl: dict[float, str] = field(default_factory=dict)
    cloud_cover_percent: float | None = None
    listed_bands: tuple[str, ...] = ()
    tile: str = ""
    listed_resolutions: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def band_files(self, band: str) -> list[BandFile]:
        """Files of ``band`` (finest resolution first); clear error when absent."""
        name = normalise_band(band)
        files = self.bands.get(name)
        if not files:
            if name in self.listed_bands:
                raise MissingDataError(
                    f"{self.path}: band {name} is listed in the metadata but its image file is "
                    "missing (incomplete product); download the complete product or choose "
                    f"--bands from {', '.join(b for b in S2_BANDS if b in self.bands)}"
                )
            raise MissingDataError(
                f"{self.path}: band {name} is not in this input (it has "
                f"{', '.join(b for b in S2_BANDS if b in self.bands) or 'none'}); choose --bands accordingly"
            )
        return files

    def check_resolution(self, band: str, resolution_m: float) -> None:
        """Refuse to upsample a band whose finer file the metadata lists but the input lacks."""
        name = normalise_band(band)
        finest = self.band_files(name)[0].resolution_m
        missing = [r for r in self.listed_resolutions.get(name, ()) if r < finest]
        if missing and resolution_m < finest:
            raise MissingDataError(
                f"{self.path}: band {name} at {min(missing):g} m is listed in the metadata but its "
                f"image file is missing (incomplete product); download the complete product or "
                f"use --resolution {finest:g}"
            )


def baseline_offset(baseline: str) -> float:
    """DN offset implied by a processing baseline: -1000 from 04.00 on, else 0."""
    match = re.search(r"(\d+)\.(\d+)", baseline or "")
    if match is None:
        match = re.search(r"N(\d{2})(\d{2})", baseline or "")
    if match is None:
        return 0.0
    return -1000.0 if (int(match.group(1)), int(match.group(2))) >= (4, 0) else 0.0


def open_s2(path: str | Path) -> S2Input:
    """Open a Sentinel-2 input (see module docstring for the accepted forms).

    Raises
    ------
    MissingDataError, ProductError
        With a message naming the path and the fix.
    """
    src = Path(path)
    if not src.exists():
        raise MissingDataError(
            f"{src}: no such file or folder; check the path of the Sentinel-2 input"
        )
    if src.is_file() and zipfile.is_zipfile(src):
        return _open_safe_zip(src)
    if src.is_file() and src.suffix.lower() == ".zip":
        raise ProductError(
            f"{src}: not a readable zip archive (truncated download?); download it again"
        )
    if src.is_dir() and list(src.glob("MTD_MSIL*.xml")):
        return _open_safe_dir(src)
    if src.is_file() and src.name.startswith("MTD_MSIL"):
        return _open_safe_dir(src.parent)
    if src.is_dir() and (src / "manifest.safe").exists():
        raise ProductError(
            f"{src}: SAFE folder without MTD_MSIL1C/2A.xml; this is not a Sentinel-2 Level-1C/2A product (Sentinel-1? use `senprep s1`)"
        )
    if src.is_dir():
        return _open_band_folder(src)
    if src.suffix.lower() in (".tif", ".tiff", ".vrt"):
        return _open_multiband(src)
    raise ProductError(
        f"{src}: not a Sentinel-2 input; pass a SAFE (.zip or folder), a folder of per-band "
        "GeoTIFFs or a multi-band GeoTIFF with band descriptions"
    )


# ----------------------------------------------------------------------------- SAFE


def _xml_text(root: Any, name: str) -> str:
    found = root.xpath(f"(.//*[local-name()='{name}'])[1]/text()")
    return str(found[0]).strip() if found else ""


def _parse_safe(src: Path, read: Any, names: list[str], prefix: str, gdal_prefix: str) -> S2Input:
    mtd_name = next(
        (n for n in names if re.search(r"(^|/)MTD_MSIL(1C|2A)\.xml$", n) and n.count("/") <= 1),
        None,
    )
    if mtd_name is None:
        raise ProductError(
            f"{src}: no MTD_MSIL1C.xml/MTD_MSIL2A.xml found; not a Sentinel-2 Level-1C/2A SAFE product"
        )
    try:
        root = etree.fromstring(read(mtd_name))
    except etree.XMLSyntaxError as err:
        raise ProductError(
            f"{src}: {mtd_name} is not valid XML ({err}); download the product again"
        ) from err
    level = "L2A" if "MSIL2A" in mtd_name else "L1C"
    safe_dir = mtd_name.rpartition("/")[0]
    baseline = _xml_text(root, "PROCESSING_BASELINE")

    def number(text: str, name: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ProductError(
                f"{src}: {mtd_name.rpartition('/')[2]} has {name} {text!r}, not a number; the "
                "metadata is damaged: download the product again"
            )
        return value

    quant_tag = "BOA_QUANTIFICATION_VALUE" if level == "L2A" else "QUANTIFICATION_VALUE"
    quant = number(_xml_text(root, quant_tag) or "10000", quant_tag)
    if quant <= 0:
        raise ProductError(
            f"{src}: {quant_tag} is {quant:g}; it must be positive (10000 in ESA products): "
            "download the product again"
        )
    offset_tag = "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"
    band_ids = {
        str(e.get("bandId")): _product_band(str(e.get("physicalBand")), src)
        for e in root.xpath(".//*[local-name()='Spectral_Information']")
    }
    offsets = {b: 0.0 for b in S2_BANDS}
    for element in root.xpath(f".//*[local-name()='{offset_tag}']"):
        band = band_ids.get(str(element.get("band_id")))
        if band:
            offsets[band] = number(str(element.text).strip(), offset_tag)
    name_set = set(names)
    bands: dict[str, list[BandFile]] = {}
    scl: dict[float, str] = {}
    listed: list[str] = []
    listed_res: dict[str, set[float]] = {}
    for image in root.xpath(".//*[local-name()='IMAGE_FILE']/text()"):
        rel = str(image).strip()
        member = f"{safe_dir}/{rel}.jp2" if safe_dir else f"{rel}.jp2"
        match = re.search(r"_(B\d{2}|B8A|SCL)(?:_(\d{2})m)?$", rel)
        if match is None:
            continue
        code, res_text = match.group(1), match.group(2)
        if res_text is None:  # L1C: native resolution
            res = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B01": 60, "B09": 60, "B10": 60}.get(
                code, 20
            )
        else:
            res = int(res_text)
        if code == "SCL":
            if member in name_set:
                scl[float(res)] = f"{gdal_prefix}{prefix}{member}"
            continue
        band = _product_band(code, src)
        listed.append(band)
        listed_res.setdefault(band, set()).add(float(res))
        if member in name_set:
            bands.setdefault(band, []).append(
                BandFile(f"{gdal_prefix}{prefix}{member}", float(res))
            )
    for files in bands.values():
        files.sort(key=lambda f: f.resolution_m)
    cloud = _xml_text(root, "Cloud_Coverage_Assessment")
    uri = _xml_text(root, "PRODUCT_URI") or (safe_dir or src.name)
    product_id = uri.removesuffix(".SAFE")
    tile = re.search(r"_T(\d{2}[A-Z]{3})_", product_id)
    return S2Input(
        path=src,
        kind="safe",
        product_id=product_id,
        level=level,
        mission=product_id[:3],
        sensing_time=_xml_text(root, "PRODUCT_START_TIME"),
        processing_baseline=baseline,
        bands=bands,
        offsets=offsets,
        quantification=quant,
        scl=scl,
        cloud_cover_percent=number(cloud, "Cloud_Coverage_Assessment") if cloud else None,
        listed_bands=tuple(dict.fromkeys(listed)),
        tile=tile.group(1) if tile else "",
        listed_resolutions={b: tuple(sorted(r)) for b, r in listed_res.items()},
    )


def _open_safe_dir(src: Path) -> S2Input:
    names = [p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()]

    def read(name: str) -> bytes:
        return (src / name).read_bytes()

    return _parse_safe(src, read, names, f"{src}/", "")


def _open_safe_zip(src: Path) -> S2Input:
    try:
        with zipfile.ZipFile(src) as archive:
            names = archive.namelist()
            mtd = [n for n in names if re.search(r"MTD_MSIL(1C|2A)\.xml$", n)]
            contents = {n: archive.read(n) for n in mtd}
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ProductError(
            f"{src}: not a readable zip archive ({err}); download the product again"
        ) from err
    return _parse_safe(src, contents.__getitem__, names, f"{src.resolve()}/", "/vsizip/")


# ----------------------------------------------------------------------------- GeoTIFFs


def _folder_metadata(folder: Path) -> dict[str, Any]:
    for candidate in sorted(folder.glob("*.json")):
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def _folder_level(metadata_text: str, name: str) -> str:
    """Processing level of a band folder from its metadata (GEE/SSL4EO JSON) or name."""
    if "L2A" in metadata_text or "MSIL2A" in name:
        return "L2A"
    if re.search(r"L1C|MSIL1C", metadata_text) or "MSIL1C" in name:
        return "L1C"
    return "unknown"


def _resolution(path: str, band: str | None = None) -> float:
    """Pixel size in metres; for geographic rasters (GEE exports) the band's native one."""
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise ProductError(
                    f"{path}: the band GeoTIFF has no CRS; a georeferenced input is needed"
                )
            if ds.crs.is_geographic:
                return NATIVE_RESOLUTION_M.get(band or "", float(abs(ds.res[0]) * 111_320.0))
            return float(abs(ds.res[0]))
    except RasterioIOError as err:
        raise ProductError(f"{path}: cannot open the GeoTIFF ({err})") from err


def _sensing_time(meta: dict[str, Any], product_id: str) -> str:
    """ISO sensing time from folder metadata (``SENSING_TIME``, GEE's ``system:time_start`` in
    ms) or from the date in the product ID."""
    if meta.get("SENSING_TIME"):
        return str(meta["SENSING_TIME"])
    start = meta.get("system:time_start")
    if isinstance(start, (int, float)):
        return datetime.fromtimestamp(start / 1000.0, tz=timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
    match = re.search(r"_(\d{8}T\d{6})_", product_id)
    if match:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")
    return ""


def _open_band_folder(folder: Path) -> S2Input:
    bands: dict[str, list[BandFile]] = {}
    scl: dict[float, str] = {}
    for tif in sorted(folder.glob("*.tif")) + sorted(folder.glob("*.tiff")):
        match = re.search(r"(?:^|_)(B\d{1,2}A?|SCL)$", tif.stem, flags=re.IGNORECASE)
        if match is None:
            continue
        if match.group(1).upper() == "SCL":
            scl[_resolution(str(tif))] = str(tif)
            continue
        band = _product_band(match.group(1), tif)
        bands.setdefault(band, []).append(BandFile(str(tif), _resolution(str(tif), band)))
    if not bands:
        raise ProductError(
            f"{folder}: no Sentinel-2 band GeoTIFFs found (expected names ending in _B02.tif, "
            "B2.tif, ...); pass a SAFE product, a folder of band GeoTIFFs or a multi-band GeoTIFF"
        )
    meta = _folder_metadata(folder)
    text = json.dumps(meta)
    baseline_match = re.search(r"_N(\d{2})\.?(\d{2})", text)
    baseline = f"{baseline_match.group(1)}.{baseline_match.group(2)}" if baseline_match else ""
    offset = baseline_offset(baseline)
    cloud = meta.get("CLOUDY_PIXEL_PERCENTAGE", meta.get("CLOUD_COVERAGE_ASSESSMENT"))
    product_id = str(meta.get("PRODUCT_ID", folder.name))
    return S2Input(
        path=folder,
        kind="folder",
        product_id=product_id,
        level=_folder_level(text, folder.name),
        mission=product_id[:3] if product_id.startswith("S2") else "",
        sensing_time=_sensing_time(meta, product_id),
        processing_baseline=baseline,
        bands=bands,
        offsets={b: offset for b in S2_BANDS},
        scl=scl,
        cloud_cover_percent=_float_or_none(cloud),
    )


def _float_or_none(value: Any) -> float | None:
    """A metadata number (e.g. GEE's CLOUDY_PIXEL_PERCENTAGE); None when absent or not one:
    it is informative only."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _open_multiband(path: Path) -> S2Input:
    try:
        with rasterio.open(path) as ds:
            descriptions = ds.descriptions
            tags = ds.tags()
            res = abs(ds.res[0])
            if ds.crs is None:
                raise ProductError(
                    f"{path}: the GeoTIFF has no CRS; a georeferenced input is needed"
                )
    except RasterioIOError as err:
        raise ProductError(f"{path}: cannot open the GeoTIFF ({err})") from err
    bands: dict[str, list[BandFile]] = {}
    scl: dict[float, str] = {}
    for index, description in enumerate(descriptions, start=1):
        if not description:
            continue
        if description.upper() == "SCL":
            scl[res] = str(path)
            continue
        try:
            band = normalise_band(description)
        except OptionError:
            continue
        bands[band] = [BandFile(str(path), float(res), index)]
    if not bands:
        raise ProductError(
            f"{path}: no band descriptions naming Sentinel-2 bands (B2, B3, ...); set them "
            "(e.g. `rio edit-info --bidx 1 --description B2`) or pass per-band files"
        )
    baseline = tags.get("PROCESSING_BASELINE", "")
    scale_tag = tags.get("REFLECTANCE_SCALE")
    offsets = {b: baseline_offset(baseline) for b in S2_BANDS}
    return S2Input(
        path=path,
        kind="geotiff",
        product_id=tags.get("SOURCE_PRODUCT", path.stem),
        level=tags.get("PROCESSING_LEVEL", "unknown"),
        mission=tags.get("MISSION", ""),
        sensing_time=tags.get("SENSING_TIME", ""),
        processing_baseline=baseline,
        bands=bands,
        offsets=offsets,
        quantification=float(scale_tag) if scale_tag else 10000.0,
        scl=scl,
    )
