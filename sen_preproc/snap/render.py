"""Typed options -> concrete GPT graphs for a SNAP version.

Each ``render_*`` function loads a template from ``graphs/`` (package ``sen_preproc.graphs``),
removes the optional nodes the options switch off (re-wiring their consumers), fills the
``${name}`` variables from the options, adapts the graph to the SNAP version (drops parameters
that version does not know, renames Collocate's sources/parameters before SNAP 10, picks the
Sen2Cor adapter alias) and validates the result with
:func:`sen_preproc.snap.validate.validate_graph` before returning a :class:`RenderedGraph`.

User values never go into the XML by string pasting: they stay in
:attr:`RenderedGraph.variables` and are escaped either by the XML writer
(:meth:`RenderedGraph.concrete_xml`) or by :func:`~sen_preproc.snap.graph.escape_value`
(the ``-P`` arguments of :func:`sen_preproc.snap.gpt.build_command`).
"""

from __future__ import annotations

import importlib.resources
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from sen_preproc.bands import POLARISATIONS
from sen_preproc.errors import MissingDataError, OptionError
from sen_preproc.snap import catalogue as cat
from sen_preproc.snap.auxdata import parse_orbit_file_name
from sen_preproc.snap.catalogue import Catalogue
from sen_preproc.snap.graph import PLACEHOLDER_RE, Graph, check_xml_text, xml_comment
from sen_preproc.snap.validate import validate_graph
from sen_preproc.snap.version import SnapVersion

LOGGER = logging.getLogger(__name__)

TEMPLATE_PACKAGE = "sen_preproc.graphs"
TEMPLATE_NAMES = ("s1_grd", "s2_l2a", "s2_l1c_sen2cor", "s2_l1c_toa", "collocate")

#: :attr:`S2GraphOptions.level` values: an L2A product (bottom-of-atmosphere reflectance and
#: scene classification) ...
S2_LEVEL_L2A = "L2A"
#: ... an L1C product atmospherically corrected by Sen2Cor inside gpt (then as L2A) ...
S2_LEVEL_SEN2COR = "L1C"
#: ... or an L1C product without atmospheric correction: top-of-atmosphere reflectance only,
#: no scene classification (the Python engine's L1C without ``--atmcor sen2cor``).
S2_LEVEL_TOA = "L1C-TOA"
S2_LEVELS = (S2_LEVEL_L2A, S2_LEVEL_SEN2COR, S2_LEVEL_TOA)
_S2_TEMPLATES = {
    S2_LEVEL_L2A: "s2_l2a",
    S2_LEVEL_SEN2COR: "s2_l1c_sen2cor",
    S2_LEVEL_TOA: "s2_l1c_toa",
}
#: Apply-Orbit-File ``orbitType`` for an orbit file of each kind. These types look in SNAP's
#: auxdata orbit folder first and download only when the file is not there; SNAP has no type
#: that takes a file path.
ORBIT_TYPE_FOR_KIND = {
    "POEORB": "Sentinel Precise (Auto Download)",
    "RESORB": "Sentinel Restituted (Auto Download)",
}

#: Our speckle-filter names -> SNAP's ``filter`` values (``none``: no Speckle-Filter node).
SPECKLE_FILTER_NAMES: dict[str, str | None] = {
    "lee": "Lee",
    "refined-lee": "Refined Lee",
    "lee-sigma": "Lee Sigma",
    "frost": "Frost",
    "gamma-map": "Gamma Map",
    "boxcar": "Boxcar",
    "median": "Median",
    "none": None,
}
#: Filters whose window is ``filterSizeX``/``filterSizeY`` (SpeckleFilterOp.createFilter).
_SIZE_FILTERS = ("Boxcar", "Median", "Frost", "Gamma Map", "Lee")
_SPECKLE_WINDOW_PARAMS = (
    "filterSizeX",
    "filterSizeY",
    "dampingFactor",
    "windowSize",
    "sigmaStr",
    "targetWindowSizeStr",
    "numLooksStr",
)
_SPECKLE_KEEP = {
    "Boxcar": ("filterSizeX", "filterSizeY"),
    "Median": ("filterSizeX", "filterSizeY"),
    "Gamma Map": ("filterSizeX", "filterSizeY"),
    "Lee": ("filterSizeX", "filterSizeY"),
    "Frost": ("filterSizeX", "filterSizeY", "dampingFactor"),
    "Lee Sigma": ("windowSize", "sigmaStr", "targetWindowSizeStr", "numLooksStr"),
    "Refined Lee": (),  # SNAP's RefinedLee has a fixed 7x7 window and no window parameter
}
_CALIBRATION_BANDS = {
    "sigma0": "outputSigmaBand",
    "beta0": "outputBetaBand",
    "gamma0": "outputGammaBand",
}
#: Band names of SNAP's Sentinel-2 L2A reader (B10 is L1C only).
S2_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12")
#: Band names of SNAP's Sentinel-2 L1C reader (top of atmosphere).
S2_L1C_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
#: The SCL layer as SNAP's L2A reader names it (assumption, see graphs/s2_l2a.xml).
S2_SCENE_CLASSIFICATION_BAND = "quality_scene_classification"
#: Sen2Cor versions (major.minor) -> STA adapter alias.
SEN2COR_ADAPTERS = {
    "2.5": "Sen2Cor255",
    "2.8": "Sen2Cor280",
    "2.9": "Sen2Cor290",
    "2.11": "Sen2Cor 2.11.0",
}


# ---- templates ------------------------------------------------------------------------------
def template_text(name: str) -> str:
    """The XML text of template ``name`` (``s1_grd``, ``s2_l2a``, ``s2_l1c_sen2cor``,
    ``collocate``; ``.xml`` optional).

    Read from the installed package ``sen_preproc.graphs``; in a source tree without that
    package, from the ``graphs/`` folder beside ``sen_preproc/``.

    Raises
    ------
    MissingDataError
        When the template is in neither place.
    """
    filename = name if name.endswith(".xml") else f"{name}.xml"
    try:
        resource = importlib.resources.files(TEMPLATE_PACKAGE).joinpath(filename)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    except ModuleNotFoundError:
        pass
    local = Path(__file__).resolve().parents[2] / "graphs" / filename
    if local.is_file():
        return local.read_text(encoding="utf-8")
    raise MissingDataError(
        f"graph template {filename!r} not found in package {TEMPLATE_PACKAGE} nor in {local.parent}; "
        f"reinstall senprep (templates: {', '.join(TEMPLATE_NAMES)})"
    )


def load_template(name: str) -> Graph:
    """Template ``name`` parsed into a :class:`~sen_preproc.snap.graph.Graph`."""
    return Graph.from_xml(template_text(name))


# ---- the result -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RenderedGraph:
    """A graph with placeholders plus the values of its variables.

    ``variables`` holds exactly the variables ``graph`` uses. ``notes`` are instructions for
    whoever runs the graph (e.g. where to place an orbit file); they are written as XML comments
    before ``<graph>``.
    """

    graph: Graph
    variables: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def template_xml(self) -> str:
        """The XML with ``${name}`` placeholders kept: gpt fills them from ``-P`` arguments."""
        return self._comments() + self.graph.to_xml(None)

    def concrete_xml(self) -> str:
        """The XML with every value substituted and escaped (what ``senprep graph`` writes)."""
        return self._comments() + self.graph.to_xml(self.variables)

    def _comments(self) -> str:
        return "".join(xml_comment(note) + "\n" for note in self.notes)

    def operators(self) -> list[str]:
        """Operator aliases in chain order."""
        return self.graph.operators()


# ---- options --------------------------------------------------------------------------------
@dataclass(frozen=True)
class S1GraphOptions:
    """Options of the Sentinel-1 GRD graph (``graphs/s1_grd.xml``).

    Parameters
    ----------
    input, output
        The GRD product (zip, ``.SAFE`` or ``manifest.safe``) and the GeoTIFF to write. Every
        path (these, ``dem``, ``orbit_file``) is written absolute: a relative one is taken
        relative to the current folder, since gpt runs in another one.
    polarisations
        e.g. ``("VV", "VH")``; empty: all.
    border_noise, thermal_noise
        Include Remove-GRD-Border-Noise / ThermalNoiseRemoval.
    orbit_type, orbit_continue_on_fail
        Apply-Orbit-File ``orbitType`` (None: the type of ``orbit_file``, else
        ``Sentinel Precise (Auto Download)``) and ``continueOnFail``.
    orbit_file, orbit_destination
        An ESA orbit file (``--orbit-file``) and where SNAP looks for it
        (:func:`sen_preproc.snap.auxdata.orbit_file_destination`; None: described generically).
        Apply-Orbit-File takes no file path: the graph gets the orbit type of the file's kind,
        ``continueOnFail`` false (gpt fails rather than keep the annotation orbit) and a note
        saying where to copy the file.
    calibration
        ``sigma0``, ``beta0`` or ``gamma0``.
    speckle, window_px
        Our filter name (``lee``, ``refined-lee``, ``lee-sigma``, ``frost``, ``gamma-map``,
        ``boxcar``, ``median``, ``none``) and window size in pixels.
    dem, dem_name, dem_nodata, dem_apply_egm
        An external DEM file (then ``demName`` is ``External DEM``), else SNAP's auto-download
        DEM ``dem_name`` (None: the version's default); nodata value of the external DEM and
        whether its heights are EGM96 geoid heights to convert.
    pixel_size_m
        Output pixel spacing in metres.
    crs
        None: UTM zone of the scene centre (``AUTO:42001``); ``EPSG:4326`` (written as SNAP's
        ``WGS84(DD)``), ``EPSG:n`` or WKT.
    aoi_wkt
        Area of interest as WKT in lon/lat degrees (Subset ``geoRegion``); None: whole scene.
    scale
        ``db`` or ``linear``.
    """

    input: Path
    output: Path
    polarisations: tuple[str, ...] = ()
    border_noise: bool = False
    thermal_noise: bool = True
    orbit_type: str | None = None
    orbit_continue_on_fail: bool = False
    orbit_file: Path | None = None
    orbit_destination: Path | None = None
    calibration: str = "sigma0"
    speckle: str = "lee-sigma"
    window_px: int = 7
    dem: Path | None = None
    dem_name: str | None = None
    dem_nodata: float = 0.0
    dem_apply_egm: bool = True
    pixel_size_m: float = 10.0
    crs: str | None = None
    aoi_wkt: str | None = None
    scale: str = "db"


@dataclass(frozen=True)
class S2GraphOptions:
    """Options of the Sentinel-2 graphs (``s2_l2a.xml``; ``s2_l1c_sen2cor.xml`` for L1C).

    Parameters
    ----------
    input, output
        The product (SAFE folder/zip or ``MTD_MSIL*.xml``) and the GeoTIFF to write (written
        absolute, see :class:`S1GraphOptions`).
    level
        The graph: ``L2A`` (:data:`S2_LEVEL_L2A`, an L2A product), ``L1C``
        (:data:`S2_LEVEL_SEN2COR`: an L1C product, Sen2Cor runs inside gpt first) or
        ``L1C-TOA`` (:data:`S2_LEVEL_TOA`: an L1C product without atmospheric correction,
        top-of-atmosphere reflectance and no scene classification).
    bands
        SNAP band names (``B2``...``B12``, ``B8A``; ``B02`` is accepted; ``B10`` for ``L1C-TOA``
        only); the scene classification band is added except for ``L1C-TOA``.
    resolution_m
        Output pixel size in metres (an integer; Sen2Cor runs at the finest of 10/20/60 m that
        is not coarser).
    crs
        None: keep the product's UTM grid; else a CRS for Reproject (``EPSG:4326``, ...).
    aoi_wkt
        WKT in lon/lat degrees (Subset ``geoRegion``).
    sen2cor_version
        e.g. ``"2.11"``: picks the Sen2Cor adapter (L1C only); None: by SNAP version.
    """

    input: Path
    output: Path
    level: str
    bands: tuple[str, ...] = ("B2", "B3", "B4", "B8")
    resolution_m: float = 10.0
    crs: str | None = None
    aoi_wkt: str | None = None
    sen2cor_version: str | None = None


@dataclass(frozen=True)
class CollocateOptions:
    """Options of ``graphs/collocate.xml``: the secondary is resampled onto the reference grid.

    ``resampling`` is one of Collocate's ``ResamplingType`` names
    (:data:`sen_preproc.snap.catalogue.COLLOCATE_RESAMPLING`).
    """

    reference: Path
    secondary: Path
    output: Path
    resampling: str = "BILINEAR_INTERPOLATION"


# ---- rendering ------------------------------------------------------------------------------
def render_s1(
    opts: S1GraphOptions, version: SnapVersion, *, catalogue: Catalogue | None = None
) -> RenderedGraph:
    """The S1 GRD graph for ``opts`` and SNAP ``version`` (validated; with ``orbit_file``, a
    note saying where to place it, see :class:`S1GraphOptions`).

    Raises
    ------
    OptionError
        For an option SNAP cannot take (the message names the allowed values), an orbit type
        that does not match ``orbit_file``, or ``continueOnFail`` with an orbit file.
    OrbitError
        When ``orbit_file`` is not named as ESA names orbit files (SNAP finds them by name).
    GraphError
        When the rendered graph does not validate against the catalogue, or a value holds a
        character XML cannot carry.
    """
    major = cat.known_major(version)
    graph = load_template("s1_grd")
    v: dict[str, str] = {"input": _path(opts.input), "output": _path(opts.output)}
    v["polarisations"] = _polarisations(opts.polarisations)
    if not opts.border_noise:
        graph = graph.without("Remove-GRD-Border-Noise")
    if not opts.thermal_noise:
        graph = graph.without("ThermalNoiseRemoval")

    notes = _orbit(v, opts, major, version)

    if opts.calibration not in _CALIBRATION_BANDS:
        raise OptionError(
            f"calibration {opts.calibration!r} is unknown; use one of: {', '.join(_CALIBRATION_BANDS)}"
        )
    for target, param in _CALIBRATION_BANDS.items():
        v[param] = _bool(target == opts.calibration)

    graph = _speckle(graph, v, opts.speckle, opts.window_px)
    graph = _dem(graph, v, opts, major, version)

    if not (math.isfinite(opts.pixel_size_m) and opts.pixel_size_m > 0):
        raise OptionError(f"pixel size {opts.pixel_size_m!r} m must be a positive number")
    v["pixelSpacing"] = _float(opts.pixel_size_m)
    v["mapProjection"] = _map_projection(opts.crs)

    if opts.scale not in ("db", "linear"):
        raise OptionError(f"scale {opts.scale!r} is unknown; use 'db' or 'linear'")
    if opts.scale == "linear":
        graph = graph.without("LinearToFromdB")
    if opts.aoi_wkt is None:
        graph = graph.without("Subset")
    else:
        v["aoi"] = _aoi(opts.aoi_wkt)
    return _finish(graph, v, version, catalogue, notes)


def render_s2(
    opts: S2GraphOptions, version: SnapVersion, *, catalogue: Catalogue | None = None
) -> RenderedGraph:
    """The S2 graph for ``opts`` (L2A; L1C through Sen2Cor; L1C at the top of the atmosphere)
    and SNAP ``version`` (validated).

    Raises
    ------
    OptionError
        For an unknown level, band, resolution or Sen2Cor version.
    GraphError
        When the rendered graph does not validate against the catalogue.
    """
    level = opts.level.strip().upper()
    if level not in S2_LEVELS:
        raise OptionError(
            f"level {opts.level!r} is unknown; use {S2_LEVEL_L2A!r} (L2A product), "
            f"{S2_LEVEL_SEN2COR!r} (L1C through Sen2Cor) or {S2_LEVEL_TOA!r} (L1C, top of "
            "atmosphere)"
        )
    graph = load_template(_S2_TEMPLATES[level])
    res = opts.resolution_m
    if not (math.isfinite(res) and res > 0 and float(res).is_integer()):
        raise OptionError(
            f"resolution {res!r} m: SNAP's Resample takes a whole number of metres (e.g. 10)"
        )
    v: dict[str, str] = {"input": _path(opts.input), "output": _path(opts.output)}
    v["resolution"] = str(int(res))
    if level == S2_LEVEL_TOA:
        v["bands"] = ",".join(_s2_bands(opts.bands, S2_L1C_BANDS, "L1C"))
    else:
        v["bands"] = ",".join([*_s2_bands(opts.bands), S2_SCENE_CLASSIFICATION_BAND])
    if level == S2_LEVEL_SEN2COR:
        alias = sen2cor_alias(version, opts.sen2cor_version)
        graph = graph.with_node(replace(graph.node("Sen2Cor"), operator=alias))
        v["sen2corResolution"] = next((str(r) for r in (60, 20, 10) if res >= r), "10")
    if opts.aoi_wkt is None:
        graph = graph.with_node(graph.node("Subset").without_params("geoRegion"))
    else:
        v["aoi"] = _aoi(opts.aoi_wkt)
    if opts.crs is None:
        graph = graph.without("Reproject")
    else:
        v["crs"] = opts.crs.strip()
        if _crs_in_metres(opts.crs):
            v["pixelSize"] = _float(res)
        else:
            node = graph.node("Reproject").without_params("pixelSizeX", "pixelSizeY")
            graph = graph.with_node(node)
    return _finish(graph, v, version, catalogue)


def render_collocate(
    opts: CollocateOptions, version: SnapVersion, *, catalogue: Catalogue | None = None
) -> RenderedGraph:
    """The Collocate graph for SNAP ``version`` (master/slave names before SNAP 10; validated).

    Raises
    ------
    OptionError
        For a resampling name Collocate does not know.
    """
    if opts.resampling not in cat.COLLOCATE_RESAMPLING:
        raise OptionError(
            f"collocation resampling {opts.resampling!r} is unknown; use one of: "
            f"{', '.join(cat.COLLOCATE_RESAMPLING)}"
        )
    graph = load_template("collocate")
    v = {
        "reference": _path(opts.reference),
        "secondary": _path(opts.secondary),
        "output": _path(opts.output),
        "resamplingType": opts.resampling,
    }
    return _finish(graph, v, version, catalogue)


def sen2cor_alias(version: SnapVersion, sen2cor_version: str | None = None) -> str:
    """The GPT alias of the Sen2Cor adapter for ``sen2cor_version`` or, if None, SNAP ``version``.

    Without a Sen2Cor version the adapter of the SNAP generation is assumed (the adapters are
    plugins, not tied to a SNAP release in the sources): SNAP <= 6 ``Sen2Cor255``, 7
    ``Sen2Cor280``, 8 ``Sen2Cor290``, >= 9 ``Sen2Cor 2.11.0`` (the newest adapter, from s2tbx's
    9.x branch; none was found for SNAP 10+, which installs the same plugin).

    Raises
    ------
    OptionError
        For a Sen2Cor version without adapter (the message lists the supported ones).
    """
    if sen2cor_version is not None:
        parts = sen2cor_version.strip().lstrip("vV").split(".")
        key = ".".join(str(int(p)) for p in parts[:2] if p.isascii() and p.isdigit())
        if key not in SEN2COR_ADAPTERS:
            raise OptionError(
                f"Sen2Cor version {sen2cor_version!r} has no SNAP tool adapter; use one of "
                f"{', '.join(SEN2COR_ADAPTERS)} (or run L2A_Process yourself and give the L2A)"
            )
        return SEN2COR_ADAPTERS[key]
    major = version.major
    if major <= 6:
        return "Sen2Cor255"
    if major == 7:
        return "Sen2Cor280"
    if major == 8:
        return "Sen2Cor290"
    return "Sen2Cor 2.11.0"


# ---- helpers --------------------------------------------------------------------------------
def _finish(
    graph: Graph,
    variables: dict[str, str],
    version: SnapVersion,
    catalogue: Catalogue | None,
    notes: tuple[str, ...] = (),
) -> RenderedGraph:
    """Adapt ``graph`` to ``version``, drop empty parameters and unused variables, validate."""
    catalogue = catalogue if catalogue is not None else cat.catalogue_for(version)
    graph = adapt_to_version(graph, version, catalogue)
    # a parameter whose value is one variable with an empty value: leave SNAP's default
    for node in graph.nodes:
        empty = [
            name
            for name, value in node.parameters
            if isinstance(value, str)
            and (m := PLACEHOLDER_RE.fullmatch(value)) is not None
            and variables.get(m.group(1)) == ""
        ]
        if empty:
            graph = graph.with_node(node.without_params(*empty))
    used = graph.variables()
    missing = sorted(used - set(variables))
    if missing:
        raise OptionError(f"no value for graph variable(s) {missing}; this is a senprep bug")
    values = {name: variables[name] for name in sorted(used)}
    for name, value in values.items():  # fail now, not when the XML is written
        check_xml_text(value, f"graph variable {name!r}: value")
    validate_graph(graph, version, catalogue, values)
    return RenderedGraph(graph, values, notes)


def adapt_to_version(graph: Graph, version: SnapVersion, catalogue: Catalogue) -> Graph:
    """Make a graph written with SNAP 14 names fit SNAP ``version``.

    Renames Collocate's sources and parameters before SNAP 10 (reference -> master, ...) and
    drops parameter elements the version does not know but other versions do (e.g.
    ThermalNoiseRemoval ``clipNegativeValues`` before 14); elements unknown to every version
    are kept so that validation reports them.
    """
    major = cat.known_major(version)
    for node in graph.nodes:
        new = node
        if node.operator == "Collocate" and major < 10:
            renames = cat.COLLOCATE_RENAMES_BEFORE_10
            new = replace(
                new.renamed_params(renames),
                sources=tuple((renames.get(s, s), ref) for s, ref in new.sources),
            )
        op = catalogue.operator(new.operator)
        if op is not None:
            drop = [
                name
                for name, _ in new.parameters
                if op.param(name) is None and cat.param_majors(new.operator, name)
            ]
            if drop:
                LOGGER.debug("SNAP %s: dropping %s from node %s", version, drop, node.id)
                new = new.without_params(*drop)
        if new != node:
            graph = graph.with_node(new)
    return graph


def _path(path: Path | str) -> str:
    """A path as written into a graph: absolute (gpt resolves relative ones against its own
    working folder, which is not ours)."""
    return str(Path(path).absolute())


def _orbit(
    v: dict[str, str], opts: S1GraphOptions, major: int, version: SnapVersion
) -> tuple[str, ...]:
    """Fill Apply-Orbit-File's variables; the notes that say where to place ``orbit_file``."""
    orbit_types = cat.APPLY_ORBIT_FILE.params[0].allowed_for(major) or ()
    orbit_type = opts.orbit_type
    notes: tuple[str, ...] = ()
    if opts.orbit_file is not None:
        eof = Path(_path(opts.orbit_file))
        info = parse_orbit_file_name(eof.name)
        expected = ORBIT_TYPE_FOR_KIND[info.kind]
        if orbit_type is not None and orbit_type != expected:
            raise OptionError(
                f"orbit type {orbit_type!r} does not match the {info.kind} orbit file {eof}; "
                f"use {expected!r} or leave the orbit type unset"
            )
        if opts.orbit_continue_on_fail:
            raise OptionError(
                f"continueOnFail with the orbit file {eof} would let gpt keep the annotation "
                "orbit silently when SNAP does not find the file; leave it false"
            )
        orbit_type = expected
        if opts.orbit_destination is not None:
            where = _path(opts.orbit_destination)
        else:
            where = (
                f"<AuxDataPath>/Orbits/Sentinel-1/{info.kind}/{info.mission}/<YYYY>/<MM>/"
                f"{eof.name} (year and month of the product's start)"
            )
        notes = (
            f"Apply-Orbit-File takes no file path: before running gpt, copy the orbit file "
            f"{eof} to {where}, where SNAP's Apply-Orbit-File ({orbit_type!r}) looks for it "
            "(on another machine: the same path under its SNAP AuxDataPath; senprep's SNAP "
            "engine copies it itself). continueOnFail is false: if SNAP finds no orbit file "
            "there and cannot download one, gpt fails instead of keeping the annotation orbit.",
        )
        for note in notes:
            xml_comment(note)  # a path XML cannot carry fails here, not when writing
    if orbit_type is None:
        orbit_type = ORBIT_TYPE_FOR_KIND["POEORB"]
    if orbit_type not in orbit_types:
        raise OptionError(
            f"orbit type {orbit_type!r} is not known to SNAP {version}; use one of: "
            f"{', '.join(repr(t) for t in orbit_types)}"
        )
    v["orbitType"] = orbit_type
    v["orbitContinueOnFail"] = _bool(opts.orbit_continue_on_fail)
    return notes


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _float(value: float) -> str:
    """A float as ``java.lang.Double.parseDouble`` reads it (``NaN``, ``Infinity``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def _polarisations(pols: tuple[str, ...]) -> str:
    out = []
    for pol in pols:
        p = pol.strip().upper()
        if p not in POLARISATIONS:
            raise OptionError(f"polarisation {pol!r} is unknown; use {', '.join(POLARISATIONS)}")
        if p not in out:
            out.append(p)
    return ",".join(out)


def _speckle(graph: Graph, v: dict[str, str], name: str, window: int) -> Graph:
    if name not in SPECKLE_FILTER_NAMES:
        raise OptionError(
            f"speckle filter {name!r} is unknown; use one of: {', '.join(SPECKLE_FILTER_NAMES)}"
        )
    snap_name = SPECKLE_FILTER_NAMES[name]
    if snap_name is None:
        return graph.without("Speckle-Filter")
    if snap_name in _SIZE_FILTERS:
        if isinstance(window, bool) or not isinstance(window, int) or not 1 < window <= 100:
            raise OptionError(
                f"window {window!r} px: SNAP's {snap_name} filter takes filterSizeX/Y in "
                "(1, 100], i.e. 2 ... 100 pixels"
            )
        v["filterSize"] = str(window)
    elif snap_name == "Lee Sigma":
        allowed = [int(w.split("x")[0]) for w in cat.LEE_SIGMA_WINDOWS]
        if window not in allowed:
            raise OptionError(
                f"window {window!r} px: SNAP's Lee Sigma filter allows only "
                f"{', '.join(map(str, allowed))} (windowSize 5x5 ... 17x17)"
            )
        v["windowSize"] = f"{window}x{window}"
    elif snap_name == "Refined Lee" and window != 7:
        raise OptionError(
            f"window {window!r} px: SNAP's Refined Lee uses a fixed 7x7 window; use window 7"
        )
    v["speckleFilter"] = snap_name
    keep = _SPECKLE_KEEP[snap_name]
    node = graph.node("Speckle-Filter")
    drop = [p for p in _SPECKLE_WINDOW_PARAMS if p not in keep]
    return graph.with_node(node.without_params(*drop))


def _dem(
    graph: Graph, v: dict[str, str], opts: S1GraphOptions, major: int, version: SnapVersion
) -> Graph:
    node = graph.node("Terrain-Correction")
    if opts.dem is not None:
        if opts.dem_name not in (None, "External DEM"):
            raise OptionError(
                f"DEM name {opts.dem_name!r} and DEM file {str(opts.dem)!r} both given; give "
                "one (a file means demName 'External DEM')"
            )
        v["demName"] = "External DEM"
        v["demFile"] = _path(opts.dem)
        v["demNoDataValue"] = _float(opts.dem_nodata)
        v["demApplyEGM"] = _bool(opts.dem_apply_egm)
        return graph
    dem_spec = cat.TERRAIN_CORRECTION.param("demName")
    assert dem_spec is not None
    name = opts.dem_name if opts.dem_name is not None else dem_spec.default_for(major)
    auto = [d for d in cat.DEM_NAMES if d != "External DEM"]
    if name not in auto:
        hint = "; 'External DEM' needs a DEM file" if name == "External DEM" else ""
        raise OptionError(
            f"DEM name {name!r} is not a SNAP DEM{hint}; use a DEM file or one of: "
            f"{', '.join(repr(d) for d in auto)}"
        )
    v["demName"] = str(name)
    node = node.without_params("externalDEMFile", "externalDEMNoDataValue", "externalDEMApplyEGM")
    return graph.with_node(node)


def _map_projection(crs: str | None) -> str:
    """Terrain-Correction ``mapProjection``: AUTO:42001 by default, WGS84(DD) for EPSG:4326."""
    if crs is None:
        return "AUTO:42001"
    text = crs.strip()
    if text.upper() in ("EPSG:4326", "4326", "WGS84", "WGS84(DD)"):
        return "WGS84(DD)"
    if not text:
        raise OptionError("empty CRS; give e.g. EPSG:32633, EPSG:4326 or omit it for UTM")
    return text


def _crs_in_metres(crs: str) -> bool:
    """True when pyproj reads ``crs`` as a projected CRS in metres (else leave pixel size)."""
    import pyproj

    try:
        parsed = pyproj.CRS.from_user_input(crs.strip())
    except pyproj.exceptions.CRSError:
        return False
    if not parsed.is_projected:
        return False
    return all(axis.unit_name in ("metre", "meter") for axis in parsed.axis_info)


def _aoi(wkt: str) -> str:
    """Check an AOI (WKT in lon/lat) and return it stripped."""
    import shapely.wkt
    from shapely.errors import ShapelyError

    text = wkt.strip()
    try:
        geom = shapely.wkt.loads(text)
    except (ShapelyError, ValueError, TypeError) as exc:
        raise OptionError(
            f"AOI {wkt!r} is not WKT ({exc}); give e.g. POLYGON((lon lat, ...)) in degrees"
        ) from exc
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise OptionError(f"AOI {wkt!r} must be a non-empty POLYGON or MULTIPOLYGON")
    x0, y0, x1, y1 = geom.bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise OptionError(
            f"AOI {wkt!r} has bounds {geom.bounds}, outside lon/lat degrees; give the AOI in "
            "EPSG:4326 lon/lat"
        )
    return text


def _s2_bands(
    bands: tuple[str, ...], allowed: tuple[str, ...] = S2_BANDS, level: str = "L2A"
) -> list[str]:
    if not bands:
        raise OptionError(f"no bands given; give some of {', '.join(allowed)}")
    out: list[str] = []
    for band in bands:
        name = band.strip().upper()
        if name.startswith("B") and name[1:].isascii() and name[1:].isdigit():
            name = f"B{int(name[1:])}"
        elif name in ("B08A", "B8A"):
            name = "B8A"
        if name not in allowed:
            raise OptionError(
                f"band {band!r} is not a Sentinel-2 {level} band; use some of {', '.join(allowed)}"
            )
        if name not in out:
            out.append(name)
    return out
