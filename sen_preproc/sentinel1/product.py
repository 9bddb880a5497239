"""Open Sentinel-1 Level-1 SAFE products (zip, ``.SAFE`` folder or ``manifest.safe``).

This is one of the few modules that opens files. It checks the product (mission, product type,
mode, polarisations, measurement files) with one clear error per problem, then reads the
annotation metadata needed downstream into plain dataclasses of numpy arrays:

* calibration LUTs, orbit state vectors, geolocation grid and slant/ground range conversion via
  xarray-sentinel's readers;
* thermal-noise LUTs with our own parser, because xarray-sentinel keeps only the first
  azimuth-noise block of GRD products (marked "BROKEN" in its code) and refuses range vectors
  with differing pixel positions, both common in real IPF >= 2.9 products.
"""

from __future__ import annotations

import logging
import math
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

import fsspec
import numpy as np
import numpy.typing as npt
from lxml import etree

from sen_preproc.archives import verify_zip_members
from sen_preproc.errors import MissingDataError, ProductError
from sen_preproc.sentinel1.luts import LutGrid

LOGGER = logging.getLogger(__name__)

SUPPORTED_MODES = ("IW", "EW", "SM", "S1", "S2", "S3", "S4", "S5", "S6")
SUPPORTED_PRODUCT_TYPES = ("GRD",)

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class ImageInfo:
    """Image geometry of one measurement (annotation ``imageInformation``).

    Times are seconds relative to ``first_line_time`` (UTC, ``datetime64[ns]``).
    """

    lines: int
    samples: int
    first_line_time: np.datetime64
    last_line_time: np.datetime64
    azimuth_time_interval_s: float
    range_pixel_spacing_m: float
    azimuth_pixel_spacing_m: float
    slant_range_time_s: float
    radar_frequency_hz: float
    pass_direction: str
    platform_heading_deg: float
    incidence_angle_mid_deg: float
    thermal_noise_removed: bool


@dataclass(frozen=True)
class NoiseAzimuthBlock:
    """One ``noiseAzimuthVector``: azimuth noise profile valid in a rectangle of the image."""

    swath: str
    first_line: int
    last_line: int
    first_sample: int
    last_sample: int
    lines: npt.NDArray[np.int64]
    values: FloatArray


@dataclass(frozen=True)
class NoiseModel:
    """Thermal-noise LUTs: range vectors and (IPF >= 2.9) azimuth blocks."""

    range_lut: LutGrid
    azimuth_blocks: tuple[NoiseAzimuthBlock, ...]


@dataclass(frozen=True)
class OrbitStateVectors:
    """Orbit state vectors in the Earth-fixed frame (WGS84 ECEF).

    Attributes
    ----------
    times : numpy.ndarray
        UTC times, ``datetime64[ns]``, shape ``(n,)``.
    positions_m, velocities_m_s : numpy.ndarray
        Shape ``(n, 3)``.
    source : str
        Where the vectors come from (``annotation`` or an EOF file name).
    """

    times: npt.NDArray[np.datetime64]
    positions_m: FloatArray
    velocities_m_s: FloatArray
    source: str


@dataclass(frozen=True)
class CoordinateConversion:
    """Slant-range -> ground-range polynomials (``coordinateConversionList``).

    ``ground_range = sum_i srgr[i] * (slant_range - sr0) ** i`` at each record time.
    """

    times: npt.NDArray[np.datetime64]
    sr0_m: FloatArray
    srgr_coefficients: FloatArray  # (n_records, degree + 1)
    gr0_m: FloatArray
    grsr_coefficients: FloatArray


@dataclass(frozen=True)
class GeolocationGrid:
    """Annotation geolocation grid; 2-D arrays of shape ``(n_lines, n_pixels)``."""

    lines: npt.NDArray[np.int64]
    pixels: npt.NDArray[np.int64]
    longitude_deg: FloatArray
    latitude_deg: FloatArray
    height_m: FloatArray
    incidence_angle_deg: FloatArray


@dataclass(frozen=True)
class PolarisationFiles:
    """Paths of one polarisation's files inside the product (fsspec paths)."""

    annotation: str
    calibration: str
    noise: str
    measurement: str | None


@dataclass(frozen=True)
class S1Metadata:
    """Everything the processing chain needs for one polarisation of a GRD product."""

    polarisation: str
    image: ImageInfo
    calibration: dict[str, LutGrid]
    noise: NoiseModel
    orbit: OrbitStateVectors
    conversion: CoordinateConversion
    geolocation: GeolocationGrid


@dataclass(frozen=True)
class S1Product:
    """An opened Sentinel-1 SAFE product (metadata only; no pixels are read).

    Attributes
    ----------
    path : Path
        What the user gave (zip, ``.SAFE`` folder or manifest).
    product_id : str
        SAFE name without extension, e.g. ``S1B_IW_GRDH_1SDV_20211223T...``.
    polarisations : tuple of str
        Polarisations the manifest declares (``transmitterReceiverPolarisation``), in
        manifest order (co-pol first).
    missing : dict
        Per declared polarisation whose annotation, calibration or noise file is absent, the
        absent files: asking for such a polarisation is an error naming them.
    """

    path: Path
    product_id: str
    mission: str
    mode: str
    product_type: str
    ipf_version: str
    pass_direction: str
    start_time: np.datetime64
    stop_time: np.datetime64
    absolute_orbit: int
    relative_orbit: int
    polarisations: tuple[str, ...]
    files: dict[str, PolarisationFiles] = field(repr=False)
    zip_path: Path | None = None
    safe_root: str = ""
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    # -- file access -------------------------------------------------------
    def filesystem(self) -> fsspec.AbstractFileSystem:
        """An fsspec filesystem rooted so that ``files`` paths resolve."""
        if self.zip_path is not None:
            return fsspec.filesystem("zip", fo=str(self.zip_path))
        return fsspec.filesystem("file")

    def measurement_path(self, polarisation: str) -> str:
        """GDAL path of the measurement TIFF of ``polarisation`` (``/vsizip/`` for zips)."""
        pol = polarisation.upper()
        self.require_polarisations((pol,))
        member = self.files[pol].measurement
        if member is None:
            raise MissingDataError(
                f"{self.path}: no measurement TIFF for {pol} (measurement/ is empty or "
                "incomplete); download the complete product again"
            )
        if self.zip_path is not None:
            return f"/vsizip/{self.zip_path}/{member}"
        return member

    def require_polarisations(self, requested: tuple[str, ...]) -> tuple[str, ...]:
        """Check that the requested polarisations exist; return them upper-cased."""
        wanted = tuple(p.upper() for p in requested)
        absent = [p for p in wanted if p not in self.polarisations]
        if absent:
            raise MissingDataError(
                f"{self.path}: polarisation {', '.join(absent)} is not in this product "
                f"(it has {', '.join(self.polarisations) or 'none'}); choose --pol "
                f"{','.join(self.polarisations)}"
            )
        for pol in wanted:
            if pol in self.missing:
                usable = [p for p in self.polarisations if p not in self.missing]
                raise MissingDataError(
                    f"{self.path}: {pol} cannot be processed: {', '.join(self.missing[pol])} "
                    "is missing from the product; download the complete product again"
                    + (f", or choose --pol {','.join(usable)}" if usable else "")
                )
        return wanted

    def members(self, polarisations: tuple[str, ...]) -> list[str]:
        """The files (paths inside the product) that processing ``polarisations`` reads."""
        names: list[str] = []
        for pol in self.require_polarisations(polarisations):
            files = self.files[pol]
            names += [files.annotation, files.calibration, files.noise]
            if files.measurement is not None:
                names.append(files.measurement)
        return names

    def verify(self, polarisations: tuple[str, ...]) -> None:
        """Check the CRC-32 of every zip member that processing ``polarisations`` reads
        (nothing to do for a ``.SAFE`` folder)."""
        if self.zip_path is not None:
            verify_zip_members(self.zip_path, self.members(polarisations), product=self.path)

    @property
    def ipf_at_least_2_9(self) -> bool:
        """True when the noise annotation has range and azimuth vectors (IPF >= 2.9)."""
        return ipf_version_number(self.ipf_version) >= 2.9


# --------------------------------------------------------------------------- opening


def open_product(path: str | os.PathLike[str]) -> S1Product:
    """Open a Sentinel-1 Level-1 GRD product and check it.

    Parameters
    ----------
    path : path-like
        A zip as downloaded, a ``.SAFE`` folder or its ``manifest.safe``.

    Raises
    ------
    MissingDataError
        The path does not exist.
    ProductError
        Not a SAFE product, a corrupt zip, not Sentinel-1, not GRD, or an unsupported mode.
    """
    src = Path(path)
    if not src.exists():
        raise MissingDataError(f"{src}: no such file or folder; check the path of the product")
    zip_path: Path | None = None
    if src.is_file() and src.name.lower() == "manifest.safe":
        src_dir = src.parent
        manifest_member = str(src)
        safe_root = str(src_dir)
    elif src.is_dir():
        manifest_file = src / "manifest.safe"
        if not manifest_file.is_file():
            raise ProductError(
                f"{src}: not a Sentinel SAFE product (no manifest.safe inside); pass the "
                "downloaded .zip, the .SAFE folder or its manifest.safe"
            )
        manifest_member = str(manifest_file)
        safe_root = str(src)
    elif zipfile.is_zipfile(src):
        zip_path = src.resolve()
        manifest_member, safe_root = _find_manifest_in_zip(zip_path)
    elif src.suffix.lower() == ".zip":
        raise ProductError(
            f"{src}: not a readable zip archive (truncated or corrupt download?); "
            "download the product again"
        )
    else:
        raise ProductError(
            f"{src}: not a Sentinel SAFE product; pass the downloaded .zip, the .SAFE "
            "folder or its manifest.safe"
        )
    product = _parse_manifest(src, zip_path, manifest_member, safe_root)
    LOGGER.info(
        "opened %s (%s %s, IPF %s, %s)",
        product.product_id,
        product.mode,
        product.product_type,
        product.ipf_version,
        "/".join(product.polarisations),
    )
    return product


def _find_manifest_in_zip(zip_path: Path) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ProductError(
            f"{zip_path}: not a readable zip archive ({err}); download the product again"
        ) from err
    manifests = [n for n in names if n.endswith("manifest.safe") and n.count("/") <= 1]
    if not manifests:
        raise ProductError(
            f"{zip_path}: the zip holds no SAFE product (no manifest.safe); pass a "
            "Sentinel-1 product zip as downloaded from the Copernicus Data Space"
        )
    manifest = sorted(manifests, key=len)[0]
    return manifest, manifest.rpartition("/")[0]


def _xml_root(fs: fsspec.AbstractFileSystem, path: str, product: Path) -> Any:
    try:
        with fs.open(path, "rb") as handle:
            return etree.parse(handle).getroot()
    except (OSError, etree.XMLSyntaxError, zipfile.BadZipFile, EOFError) as err:
        raise ProductError(
            f"{product}: cannot read {path.rpartition('/')[2]} ({err}); the product is "
            "damaged: download it again"
        ) from err


def _text(root: Any, local_name: str, default: str = "") -> str:
    found = root.xpath(f"(.//*[local-name()='{local_name}'])[1]/text()")
    return str(found[0]).strip() if found else default


def ipf_version_number(version: str) -> float:
    """IPF version as a number: ``"002.72"`` -> 2.72, ``"003.40"`` -> 3.4 (decimal minor)."""
    match = re.search(r"(\d+)(?:\.(\d+))?", version)
    if match is None:
        return 0.0
    return float(f"{int(match.group(1))}.{match.group(2) or 0}")


def _parse_manifest(src: Path, zip_path: Path | None, manifest: str, safe_root: str) -> S1Product:
    fs = fsspec.filesystem("zip", fo=str(zip_path)) if zip_path else fsspec.filesystem("file")
    root = _xml_root(fs, manifest, src)
    family = _text(root, "familyName").upper()
    number = _text(root, "number").upper()
    name = (Path(safe_root).name if safe_root else src.name).upper()
    sentinel2 = (
        "SENTINEL-2" in family
        or (family == "SENTINEL" and number.startswith("2"))  # real S2 manifests: SENTINEL + 2A
        or re.match(r"S2[A-D]_MSI", name) is not None
        or bool(root.xpath("//*[local-name()='Product_Info']"))
    )
    if sentinel2:
        raise ProductError(
            f"{src}: this is a Sentinel-2 product; use `senprep s2` for it, `senprep s1` "
            "needs a Sentinel-1 GRD product"
        )
    if "SENTINEL-1" not in family:
        raise ProductError(
            f"{src}: not a Sentinel-1 product (platform {family or 'unknown'}); pass a "
            "Sentinel-1 GRD product"
        )
    product_type = _text(root, "productType").upper()
    mode = _text(root, "mode").upper()
    product_id = Path(safe_root).name.removesuffix(".SAFE") if safe_root else src.stem
    if product_type not in SUPPORTED_PRODUCT_TYPES:
        raise ProductError(
            f"{src}: product type {product_type or 'unknown'} is not supported; senprep s1 "
            "needs a Level-1 GRD product (…_GRDH_… or …_GRDM_…), not SLC, OCN or RAW"
        )
    if mode not in SUPPORTED_MODES:
        raise ProductError(
            f"{src}: acquisition mode {mode or 'unknown'} is not supported; use an IW, EW "
            "or SM GRD product"
        )
    ipf_version = "0"
    for software in root.xpath("//*[local-name()='software']"):
        if "IPF" in (software.get("name") or ""):
            ipf_version = software.get("version") or "0"
            break
    # data objects: map file type + polarisation -> href
    hrefs: dict[tuple[str, str], str] = {}
    for data_object in root.xpath("//*[local-name()='dataObject']"):
        rep = data_object.get("repID") or ""
        locations = data_object.xpath(".//*[local-name()='fileLocation']/@href")
        if not locations:
            continue
        href = str(locations[0]).removeprefix("./")
        match = re.search(r"-(hh|hv|vv|vh)-", Path(href).name)
        if match is None:
            continue
        pol = match.group(1).upper()
        kind = {
            "s1Level1ProductSchema": "annotation",
            "s1Level1CalibrationSchema": "calibration",
            "s1Level1NoiseSchema": "noise",
            "s1Level1MeasurementSchema": "measurement",
        }.get(rep)
        if kind:
            hrefs[(kind, pol)] = f"{safe_root}/{href}" if safe_root else href
    declared = [
        str(t).strip().upper()
        for t in root.xpath("//*[local-name()='transmitterReceiverPolarisation']/text()")
    ]
    files: dict[str, PolarisationFiles] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for pol in dict.fromkeys(declared):
        kinds = ("annotation", "calibration", "noise")
        needed = [hrefs.get((k, pol)) for k in kinds]
        absent = tuple(
            (p.rpartition("/")[2] if p is not None else f"the {k} file of {pol}")
            for k, p in zip(kinds, needed, strict=True)
            if p is None or not fs.exists(p)
        )
        if absent:
            missing[pol] = absent
            continue
        measurement = hrefs.get(("measurement", pol))
        if measurement is not None and not fs.exists(measurement):
            measurement = _find_measurement(fs, safe_root, pol)
        files[pol] = PolarisationFiles(
            annotation=str(needed[0]),
            calibration=str(needed[1]),
            noise=str(needed[2]),
            measurement=measurement,
        )
    if not files:
        raise ProductError(
            f"{src}: no polarisation has its annotation, calibration and noise files; the "
            "product is incomplete: download it again"
        )
    polarisations = tuple(p for p in dict.fromkeys(declared))
    start = _manifest_time(root, "startTime", src)
    stop = _manifest_time(root, "stopTime", src)
    orbit_numbers = root.xpath("//*[local-name()='orbitNumber']/text()")
    rel_numbers = root.xpath("//*[local-name()='relativeOrbitNumber']/text()")
    return S1Product(
        path=src,
        product_id=product_id,
        mission=(_text(root, "familyName") and "S1" + _text(root, "number")).upper(),
        mode=mode,
        product_type=product_type,
        ipf_version=ipf_version,
        pass_direction=_text(root, "pass").upper(),
        start_time=start,
        stop_time=stop,
        absolute_orbit=_orbit_number(orbit_numbers, src),
        relative_orbit=_orbit_number(rel_numbers, src),
        polarisations=polarisations,
        files=files,
        zip_path=zip_path,
        safe_root=safe_root,
        missing=missing,
    )


def _manifest_time(root: Any, name: str, src: Path) -> np.datetime64:
    text = _text(root, name)
    try:
        return np.datetime64(text, "ns")
    except ValueError:
        raise ProductError(
            f"{src}: manifest.safe has an invalid {name} {text!r}; the product is damaged: "
            "download it again"
        ) from None


def _orbit_number(found: list[Any], src: Path) -> int:
    """The first orbit number found in the manifest (0 when there is none)."""
    if not found:
        return 0
    try:
        return int(str(found[0]).strip())
    except ValueError:
        raise ProductError(
            f"{src}: manifest.safe has a non-numeric orbit number {str(found[0]).strip()!r}; "
            "the product is damaged: download it again"
        ) from None


def _find_measurement(fs: fsspec.AbstractFileSystem, safe_root: str, pol: str) -> str | None:
    folder = f"{safe_root}/measurement" if safe_root else "measurement"
    try:
        names = fs.ls(folder, detail=False)
    except (FileNotFoundError, OSError):
        return None
    for name in names:
        if f"-{pol.lower()}-" in str(name) and str(name).lower().endswith((".tiff", ".tif")):
            return str(name)
    return None


# --------------------------------------------------------------------------- metadata


@contextmanager
def _open_member(product: S1Product, path: str) -> Iterator[IO[bytes]]:
    fs = product.filesystem()
    try:
        with fs.open(path, "rb") as handle:
            yield handle
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ProductError(
            f"{product.path}: cannot read {path.rpartition('/')[2]} ({err}); download the "
            "product again"
        ) from err


def read_metadata(product: S1Product, polarisation: str) -> S1Metadata:
    """Read the annotation, calibration and noise metadata of one polarisation.

    Parameters
    ----------
    product : S1Product
        As returned by :func:`open_product`.
    polarisation : str
        ``VV``, ``VH``, ``HH`` or ``HV``.
    """
    # xarray-sentinel is imported lazily: it pulls in xmlschema, slow to import.
    import xarray_sentinel.sentinel1 as xs1

    (pol,) = product.require_polarisations((polarisation,))
    files = product.files[pol]
    with _parsing(product, files.annotation), _open_member(product, files.annotation) as handle:
        annotation = etree.parse(handle).getroot()
        image = _parse_image_info(annotation, product)
    with _parsing(product, files.calibration), _open_member(product, files.calibration) as handle:
        cal_ds = xs1.open_calibration_dataset(handle)  # type: ignore[arg-type]
        calibration = {
            name: LutGrid(
                lines=_array(cal_ds["line"].values, np.int64),
                pixels=tuple(_array(cal_ds["pixel"].values, np.float64) for _ in cal_ds.line),
                values=tuple(_array(row, np.float64) for row in cal_ds[name].values),
                name=name,
            )
            for name in ("sigmaNought", "betaNought", "gamma", "dn")
        }
    with _parsing(product, files.noise), _open_member(product, files.noise) as handle:
        noise = parse_noise(etree.parse(handle).getroot(), product.path)
    with _parsing(product, files.annotation):
        with _open_member(product, files.annotation) as handle:
            orbit_ds = xs1.open_orbit_dataset(handle)  # type: ignore[arg-type]
        orbit = OrbitStateVectors(
            times=_array(orbit_ds["azimuth_time"].values, "datetime64[ns]"),
            positions_m=_array(orbit_ds["position"].values, np.float64).T.copy(),
            velocities_m_s=_array(orbit_ds["velocity"].values, np.float64).T.copy(),
            source="annotation",
        )
        with _open_member(product, files.annotation) as handle:
            conv_ds = xs1.open_coordinate_conversion_dataset(handle)  # type: ignore[arg-type]
        conversion = CoordinateConversion(
            times=_array(conv_ds["azimuth_time"].values, "datetime64[ns]"),
            sr0_m=_array(conv_ds["sr0"].values, np.float64),
            srgr_coefficients=_array(conv_ds["srgrCoefficients"].values, np.float64),
            gr0_m=_array(conv_ds["gr0"].values, np.float64),
            grsr_coefficients=_array(conv_ds["grsrCoefficients"].values, np.float64),
        )
        with _open_member(product, files.annotation) as handle:
            gcp_ds = xs1.open_gcp_dataset(handle)  # type: ignore[arg-type]
        geolocation = GeolocationGrid(
            lines=_array(gcp_ds["line"].values, np.int64),
            pixels=_array(gcp_ds["pixel"].values, np.int64),
            longitude_deg=_array(gcp_ds["longitude"].values, np.float64),
            latitude_deg=_array(gcp_ds["latitude"].values, np.float64),
            height_m=_array(gcp_ds["height"].values, np.float64),
            incidence_angle_deg=_array(gcp_ds["incidenceAngle"].values, np.float64),
        )
        _check_annotation_arrays(orbit, conversion, geolocation)
    return S1Metadata(
        polarisation=pol,
        image=image,
        calibration=calibration,
        noise=noise,
        orbit=orbit,
        conversion=conversion,
        geolocation=geolocation,
    )


# What the XML libraries (lxml, ElementTree inside xmlschema, xmlschema's validation errors are
# ValueErrors) and xarray-sentinel raise on a damaged or foreign file. Only errors raised inside
# those libraries count (see _raised_by_a_library): the same types raised by senprep's own code
# are bugs and keep their traceback; senprep's own checks raise ProductError.
_PARSE_ERRORS = (
    etree.XMLSyntaxError,
    ElementTree.ParseError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
)


def _dataset_errors() -> tuple[type[Exception], ...]:
    """What xarray-sentinel raises for inconsistent files: pandas for repeated or overflowing
    times (a non-unique index), its own ``assert`` on the structure it expects."""
    import pandas.errors

    return (pandas.errors.InvalidIndexError, OverflowError, AssertionError)


@contextmanager
def _parsing(product: S1Product, member: str) -> Iterator[None]:
    """Parse one of ``product``'s XML files: any failure is one ProductError naming it."""
    name = member.rpartition("/")[2]
    try:
        yield
    except ProductError as err:
        if str(product.path) in str(err):
            raise
        raise ProductError(
            f"{product.path}: {name}: {err}; the product is damaged: download it again"
        ) from err
    except Exception as err:
        if not isinstance(err, (*_PARSE_ERRORS, *_dataset_errors())) or not _raised_by_a_library(
            err
        ):
            raise  # not a parse failure: a bug, with its traceback
        detail = " ".join(str(err).split())[:200]
        raise ProductError(
            f"{product.path}: cannot parse {name} ({type(err).__name__}: {detail}); the file "
            "is damaged or not a Sentinel-1 annotation: download the product again"
        ) from err


_PARSER_PACKAGES = frozenset(
    {"lxml", "xml", "xmlschema", "elementpath", "xarray_sentinel", "xarray", "pandas", "numpy"}
)


def _raised_by_a_library(err: BaseException) -> bool:
    """Whether ``err`` was raised inside the XML/dataset libraries (its innermost Python
    frame belongs to one of them), not by senprep's own code."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.split(".")[0] in _PARSER_PACKAGES


def _check_annotation_arrays(
    orbit: OrbitStateVectors, conversion: CoordinateConversion, geolocation: GeolocationGrid
) -> None:
    """Refuse empty or non-finite orbit, slant-to-ground and geolocation arrays."""
    checks = {
        "orbit state vectors": (orbit.times.size >= 2, orbit.positions_m, orbit.velocities_m_s),
        "slant/ground range conversion": (
            conversion.times.size >= 1,
            conversion.sr0_m,
            conversion.srgr_coefficients,
        ),
        "geolocation grid": (
            geolocation.lines.size >= 4,
            geolocation.longitude_deg,
            geolocation.latitude_deg,
            geolocation.height_m,
            geolocation.incidence_angle_deg,
        ),
    }
    for what, (enough, *arrays) in checks.items():
        if not enough:
            raise ProductError(f"the annotation has too few {what}")
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ProductError(f"the annotation's {what}: non-numeric values")


def _parse_image_info(annotation: Any, product: S1Product) -> ImageInfo:
    def number(name: str) -> float:
        text = _text(annotation, name)
        if not text:
            raise ProductError(
                f"{product.path}: annotation lacks {name}; the product is damaged or not a "
                "Sentinel-1 Level-1 product"
            )
        return _number(text, name)

    def time(name: str) -> np.datetime64:
        text = _text(annotation, name)
        try:
            value = np.datetime64(text or "NaT", "ns")
        except ValueError:
            raise ProductError(f"{name} is {text!r}, not a time") from None
        if np.isnat(value):
            raise ProductError(f"{name} is {text!r}, not a time")
        return value

    info = ImageInfo(
        lines=int(number("numberOfLines")),
        samples=int(number("numberOfSamples")),
        first_line_time=time("productFirstLineUtcTime"),
        last_line_time=time("productLastLineUtcTime"),
        azimuth_time_interval_s=number("azimuthTimeInterval"),
        range_pixel_spacing_m=number("rangePixelSpacing"),
        azimuth_pixel_spacing_m=number("azimuthPixelSpacing"),
        slant_range_time_s=number("slantRangeTime"),
        radar_frequency_hz=number("radarFrequency"),
        pass_direction=_text(annotation, "pass").upper(),
        platform_heading_deg=number("platformHeading"),
        incidence_angle_mid_deg=number("incidenceAngleMidSwath"),
        thermal_noise_removed=_text(annotation, "thermalNoiseCorrectionPerformed").lower()
        == "true",
    )
    if info.lines < 2 or info.samples < 2 or info.azimuth_time_interval_s <= 0:
        raise ProductError(
            f"the image is {info.lines} x {info.samples} px with an azimuth interval of "
            f"{info.azimuth_time_interval_s} s"
        )
    return info


def _array(values: Any, dtype: Any) -> npt.NDArray[Any]:
    """A parsed dataset's values as a numeric array (ProductError when they are not numbers)."""
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise ProductError("values that are not numbers") from None


def _number(text: str, name: str) -> float:
    """A finite number from an XML element's text (ProductError otherwise)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ProductError(f"{name} is {text!r}, not a number")
    return value


def _floats(node: Any, name: str) -> FloatArray:
    found = node.xpath(f"./*[local-name()='{name}']/text()")
    if not found:
        return np.empty(0)
    try:
        return np.array(str(found[0]).split(), dtype=np.float64)
    except ValueError:
        raise ProductError(f"{name} holds values that are not numbers") from None


def parse_noise(root: Any, product_path: Path) -> NoiseModel:
    """Parse a noise annotation (``noise-*.xml``) of any IPF version.

    IPF >= 2.9: ``noiseRangeVector`` (range LUT per line) and ``noiseAzimuthVector`` blocks,
    every one of them kept. IPF < 2.9: ``noiseVector``/``noiseLut`` (range only).
    """
    vectors = root.xpath("//*[local-name()='noiseRangeVector']")
    lut_name = "noiseRangeLut"
    if not vectors:
        vectors = root.xpath("//*[local-name()='noiseVector']")
        lut_name = "noiseLut"
    if not vectors:
        raise ProductError(
            f"{product_path}: the noise annotation has no noise vectors; thermal noise "
            "cannot be removed (use --no-thermal-noise)"
        )
    lines = np.array([int(_number(_text(v, "line"), "line")) for v in vectors], dtype=np.int64)
    order = np.argsort(lines, kind="stable")
    range_lut = LutGrid(
        lines=lines[order],
        pixels=tuple(_floats(vectors[i], "pixel") for i in order),
        values=tuple(_floats(vectors[i], lut_name) for i in order),
        name=lut_name,
    )
    blocks = []
    for vec in root.xpath("//*[local-name()='noiseAzimuthVector']"):
        blocks.append(
            NoiseAzimuthBlock(
                swath=_text(vec, "swath"),
                first_line=int(_number(_text(vec, "firstAzimuthLine"), "firstAzimuthLine")),
                last_line=int(_number(_text(vec, "lastAzimuthLine"), "lastAzimuthLine")),
                first_sample=int(_number(_text(vec, "firstRangeSample"), "firstRangeSample")),
                last_sample=int(_number(_text(vec, "lastRangeSample"), "lastRangeSample")),
                lines=_floats(vec, "line").astype(np.int64),
                values=_floats(vec, "noiseAzimuthLut"),
            )
        )
    return NoiseModel(range_lut=range_lut, azimuth_blocks=tuple(blocks))
