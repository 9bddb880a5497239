"""The built-in catalogue of the GPT operators our graphs use, SNAP 6 ... 14.

Written from a reading of SNAP's operator sources (``@OperatorMetadata``/``@Parameter``/
``@SourceProduct`` annotations of snap-engine, s1tbx/microwave-toolbox, s2tbx/optical-toolbox at
the ``x.0.0`` tags, and the Sen2Cor tool-adapter descriptors of s2tbx's ``9.x`` branch). Nothing
here is read at run time from a SNAP installation; :mod:`sen_preproc.snap.snappy_catalogue` builds
the same structure from an installed SNAP so the two can be compared
(:func:`sen_preproc.snap.validate.diff_catalogues`).

Conventions
-----------
* A parameter's ``name`` is the element name SNAP writes (the ``@Parameter`` alias where there is
  one); ``aliases`` holds the other accepted element name (the Java field name). GPF accepts both.
* ``since``/``until`` are SNAP major versions (inclusive); ``None`` = from 6 / up to 14.
* ``default`` is the newest default; ``default_by_version`` lists ``(first_major, default)`` steps
  where it changed (e.g. Terrain-Correction ``demName``: ``SRTM 3Sec`` up to 13, ``Copernicus 30m
  Global DEM`` from 14). ``values_since`` names allowed values added later (``MuLoG`` in 14).
* Types: ``string``, ``bool``, ``int``, ``float``, ``path``, ``string[]`` (comma-separated text),
  ``rectangle`` (``x,y,w,h`` pixels), ``geometry``/``polygon`` (WKT), ``enum`` (Java enum constant
  names), ``list`` (child elements, e.g. BandMaths ``targetBands``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from sen_preproc.snap.version import KNOWN_MAJORS, SnapVersion

LOGGER = logging.getLogger(__name__)

OLDEST, NEWEST = KNOWN_MAJORS[0], KNOWN_MAJORS[-1]


def _in_range(major: int, since: int | None, until: int | None) -> bool:
    return (since is None or major >= since) and (until is None or major <= until)


@dataclass(frozen=True)
class ParamSpec:
    """One ``@Parameter`` of an operator (see the module doc for the conventions)."""

    name: str
    type: str
    default: str | None = None
    allowed: tuple[str, ...] | None = None
    required: bool = False
    aliases: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None
    default_by_version: tuple[tuple[int, str | None], ...] = ()
    values_since: tuple[tuple[str, int], ...] = ()
    interval: str | None = None  # e.g. "(1, 100]"; "*" for an open end

    def names(self) -> tuple[str, ...]:
        """All accepted element names, the canonical one first."""
        return (self.name, *self.aliases)

    def available(self, major: int) -> bool:
        return _in_range(major, self.since, self.until)

    def default_for(self, major: int) -> str | None:
        value = self.default
        steps = sorted(self.default_by_version)
        if steps and major >= steps[0][0]:
            value = [v for first, v in steps if first <= major][-1]
        return value

    def allowed_for(self, major: int) -> tuple[str, ...] | None:
        if self.allowed is None:
            return None
        late = dict(self.values_since)
        return tuple(v for v in self.allowed if late.get(v, OLDEST) <= major)

    def for_version(self, major: int) -> ParamSpec:
        """This parameter as SNAP ``major`` has it (version fields resolved)."""
        return replace(
            self,
            default=self.default_for(major),
            allowed=self.allowed_for(major),
            since=None,
            until=None,
            default_by_version=(),
            values_since=(),
        )


@dataclass(frozen=True)
class SourceSpec:
    """A ``@SourceProduct`` field (``multi=False``) or the ``@SourceProducts`` array (``True``).

    ``name`` is the Java field, ``aliases`` the ``alias=`` (both accepted as element names). A
    ``multi`` source takes every element that matches no named source (``sourceProduct``,
    ``sourceProduct.1``, ...) and the CSV element ``<sourceProducts>A,B</sourceProducts>``.
    """

    name: str
    aliases: tuple[str, ...] = ()
    optional: bool = False
    multi: bool = False
    since: int | None = None
    until: int | None = None

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def available(self, major: int) -> bool:
        return _in_range(major, self.since, self.until)


@dataclass(frozen=True)
class OperatorSpec:
    """A GPT operator: alias, Java class (simple name, as gpt prints it), sources, parameters."""

    alias: str
    java_class: str
    params: tuple[ParamSpec, ...]
    sources: tuple[SourceSpec, ...] = ()
    min_sources: int = 0
    since: int | None = None
    until: int | None = None
    note: str = ""

    def available(self, major: int) -> bool:
        return _in_range(major, self.since, self.until)

    def param(self, element_name: str) -> ParamSpec | None:
        """The parameter accepting ``element_name`` (canonical name or alias), or None."""
        for spec in self.params:
            if element_name in spec.names():
                return spec
        return None

    def source(self, element_name: str) -> SourceSpec | None:
        """The named (non-``multi``) source accepting ``element_name``, or None."""
        for spec in self.sources:
            if not spec.multi and element_name in spec.names():
                return spec
        return None

    def accepts_unnamed_sources(self) -> bool:
        return any(s.multi for s in self.sources)

    def for_version(self, major: int) -> OperatorSpec:
        """The operator as SNAP ``major`` has it: only its parameters/sources, defaults resolved."""
        return replace(
            self,
            params=tuple(p.for_version(major) for p in self.params if p.available(major)),
            sources=tuple(
                replace(s, since=None, until=None) for s in self.sources if s.available(major)
            ),
            since=None,
            until=None,
        )


@dataclass(frozen=True)
class Catalogue:
    """The operators one SNAP version knows (built-in or read from an installed SNAP)."""

    operators: tuple[OperatorSpec, ...]
    version: SnapVersion | None = None
    origin: str = "built-in"
    _by_alias: Mapping[str, OperatorSpec] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_alias", {op.alias: op for op in self.operators})

    def operator(self, alias: str) -> OperatorSpec | None:
        return self._by_alias.get(alias)

    def aliases(self) -> list[str]:
        return [op.alias for op in self.operators]

    def __contains__(self, alias: object) -> bool:
        return alias in self._by_alias

    def label(self) -> str:
        """``SNAP 10.0.0`` (or the origin when the version is unknown)."""
        return f"SNAP {self.version}" if self.version is not None else f"SNAP ({self.origin})"


P = ParamSpec
_SOURCE = (SourceSpec("sourceProduct", ("source",)),)  # the usual single input
_SOURCE_NO_ALIAS = (SourceSpec("sourceProduct"),)  # TNR, border noise, Resample, S2Resampling
_UNNAMED = (SourceSpec("sourceProducts", multi=True),)

# ---- value sets shared by several operators --------------------------------------------------
_AUX_FILES = ("Latest Auxiliary File", "Product Auxiliary File", "External Auxiliary File")
_TC_IMG_RESAMPLING = (
    "NEAREST_NEIGHBOUR",
    "BILINEAR_INTERPOLATION",
    "CUBIC_CONVOLUTION",
    "BISINC_5_POINT_INTERPOLATION",
    "BISINC_11_POINT_INTERPOLATION",
    "BISINC_21_POINT_INTERPOLATION",
    "BICUBIC_INTERPOLATION",
)
_TC_DEM_RESAMPLING = (*_TC_IMG_RESAMPLING, "DELAUNAY_INTERPOLATION")
_INCIDENCE = (
    "Use incidence angle from Ellipsoid",
    "Use local incidence angle from DEM",
    "Use projected local incidence angle from DEM",
)
_ORBIT_TYPES = (
    "Sentinel Precise (Auto Download)",
    "Sentinel Restituted (Auto Download)",
    "DORIS Preliminary POR (ENVISAT)",
    "DORIS Precise VOR (ENVISAT) (Auto Download)",
    "DELFT Precise (ENVISAT, ERS1&2) (Auto Download)",
    "PRARE Precise (ERS1&2) (Auto Download)",
    "Kompsat5 Precise",
    "Biomass Precise (MAAP) (Auto Download)",
)
SPECKLE_FILTERS = (
    "None",
    "Boxcar",
    "Median",
    "Frost",
    "Gamma Map",
    "Lee",
    "Refined Lee",
    "Lee Sigma",
    "IDAN",
    "MuLoG",
)
LEE_SIGMA_WINDOWS = ("5x5", "7x7", "9x9", "11x11", "13x13", "15x15", "17x17")
_UPSAMPLING = ("Nearest", "Bilinear", "Bicubic")
_DOWNSAMPLING = ("First", "Min", "Max", "Mean", "Median")
_FLAG_DOWNSAMPLING = ("First", "FlagAnd", "FlagOr", "FlagMedianAnd", "FlagMedianOr")
#: Collocate's ``ResamplingType`` enum constants.
COLLOCATE_RESAMPLING = (
    "NEAREST_NEIGHBOUR",
    "BILINEAR_INTERPOLATION",
    "CUBIC_CONVOLUTION",
    "BISINC_CONVOLUTION",
    "BICUBIC_CONVOLUTION",
)
#: DEM names of snap-dem (``demName`` has no value set; these are the registered models).
DEM_NAMES = (
    "SRTM 3Sec",
    "SRTM 1Sec HGT",
    "SRTM 1Sec Grid",
    "Copernicus 30m Global DEM",
    "Copernicus 90m Global DEM",
    "GETASSE30",
    "ACE30",
    "ACE2_5Min",
    "ASTER 1sec GDEM",
    "CDEM",
    "External DEM",
)
_OZONE: tuple[str, ...] = ("0", "f - 250", "g - 290", "h - 331", "i - 370", "j - 410")
_OZONE += ("k - 450", "t - 250", "u - 290", "v - 330", "w - 377", "x - 420", "y - 460")
_TF = ("FALSE", "TRUE")

#: Collocate's SNAP 10 renames (source elements and parameters): SNAP 10+ name -> SNAP 7-9 name.
COLLOCATE_RENAMES_BEFORE_10 = {
    "reference": "master",
    "secondary": "slave",
    "referenceProductName": "masterProductName",
    "renameReferenceComponents": "renameMasterComponents",
    "renameSecondaryComponents": "renameSlaveComponents",
    "referenceComponentPattern": "masterComponentPattern",
    "secondaryComponentPattern": "slaveComponentPattern",
}

# ---- core (snap-engine) ----------------------------------------------------------------------
READ = OperatorSpec(
    "Read",
    "ReadOp",
    (
        P("file", "path", required=True),
        P("formatName", "string"),  # empty: auto-detect (S2 readers register one name per zone)
        P("sourceBands", "string[]", aliases=("bandNames",), since=8),
        P("sourceMasks", "string[]", aliases=("maskNames",), since=8),
        P("pixelRegion", "rectangle", since=8),  # only with useAdvancedOptions=true
        P("geometryRegion", "geometry", since=8),
        P("copyMetadata", "bool", "true", since=8),
        P("useAdvancedOptions", "bool", "false", since=9),
        P("vectorFile", "path", since=12),
        P("polygonRegion", "polygon", since=12),
    ),
)
WRITE = OperatorSpec(
    "Write",
    "WriteOp",
    (
        P("file", "path"),
        P("formatName", "string", "BEAM-DIMAP"),  # GeoTIFF(-BigTIFF) refuse multi-size products
        P("deleteOutputOnFailure", "bool", "true"),
        P("writeEntireTileRows", "bool", "false", default_by_version=((6, "true"), (8, "false"))),
        P("clearCacheAfterRowWrite", "bool", "false"),
    ),
    _SOURCE,
    min_sources=1,
)
SUBSET = OperatorSpec(
    "Subset",
    "SubsetOp",
    (
        P("sourceBands", "string[]", aliases=("bandNames",)),
        P("region", "rectangle"),
        P("geoRegion", "geometry"),  # WKT in lon/lat; has precedence over region
        P("subSamplingX", "int", "1"),
        P("subSamplingY", "int", "1"),
        P("fullSwath", "bool", "false"),
        P("tiePointGridNames", "string[]", until=8),
        P("copyMetadata", "bool", "true", default_by_version=((6, "false"), (14, "true"))),
        P("referenceBand", "string", since=7),
        P("tiePointGrids", "string[]", aliases=("tiePointGridNames",), since=9),
        P("vectorFile", "path", since=12),
        P("polygonRegion", "polygon", since=12),
    ),
    _SOURCE,
    min_sources=1,
)
RESAMPLE = OperatorSpec(
    "Resample",
    "ResamplingOp",
    (
        P("referenceBand", "string", aliases=("referenceBandName",)),
        P("targetWidth", "int"),
        P("targetHeight", "int"),
        P("targetResolution", "int"),
        P("upsampling", "string", "Nearest", allowed=_UPSAMPLING, aliases=("upsamplingMethod",)),
        P(
            "downsampling",
            "string",
            "First",
            allowed=_DOWNSAMPLING,
            aliases=("downsamplingMethod",),
        ),
        P(
            "flagDownsampling",
            "string",
            "First",
            allowed=_FLAG_DOWNSAMPLING,
            aliases=("flagDownsamplingMethod",),
        ),
        P("resampleOnPyramidLevels", "bool", "true"),
        P("resamplingPreset", "string", "", since=7),
        P("bandResamplings", "string", "", since=7),
    ),
    _SOURCE_NO_ALIAS,
    min_sources=1,
)
REPROJECT = OperatorSpec(
    "Reproject",
    "ReprojectionOp",
    (
        P("wktFile", "path"),
        P("crs", "string"),  # WKT or authority code, e.g. EPSG:4326, AUTO:42001
        P("resampling", "string", "Nearest", allowed=_UPSAMPLING, aliases=("resamplingName",)),
        P("referencePixelX", "float"),
        P("referencePixelY", "float"),
        P("easting", "float"),
        P("northing", "float"),
        P("orientation", "float", "0", interval="[-360, 360]"),
        P("pixelSizeX", "float"),
        P("pixelSizeY", "float"),
        P("width", "int"),
        P("height", "int"),
        P("tileSizeX", "int"),
        P("tileSizeY", "int"),
        P("orthorectify", "bool", "false"),
        P("elevationModelName", "string"),
        P("noDataValue", "float"),
        P("includeTiePointGrids", "bool", "true"),
        P("addDeltaBands", "bool", "false"),
    ),
    (*_SOURCE, SourceSpec("collocationProduct", ("collocateWith",), optional=True)),
    min_sources=1,
)
LINEAR_TO_FROM_DB = OperatorSpec(
    "LinearToFromdB",
    "LinearTodBOp",
    (P("sourceBands", "string[]", aliases=("sourceBandNames",)),),
    _SOURCE,
    min_sources=1,
    note="direction per band from its unit; new bands get the suffix _db",
)
BAND_MATHS = OperatorSpec(
    "BandMaths",
    "BandMathsOp",
    (P("targetBands", "list", aliases=("targetBandDescriptors",)), P("variables", "list")),
    _UNNAMED,
    min_sources=1,
)
COLLOCATE = OperatorSpec(
    "Collocate",
    "CollocateOp",
    (
        P("targetProductName", "string", "_collocated"),
        P("targetProductType", "string", "COLLOCATED"),
        P("renameMasterComponents", "bool", "true", until=9),
        P("renameSlaveComponents", "bool", "true", until=9),
        P("masterComponentPattern", "string", "${ORIGINAL_NAME}_M", until=9),
        P(
            "slaveComponentPattern",
            "string",
            "${ORIGINAL_NAME}_S${SLAVE_NUMBER_ID}",
            until=9,
            default_by_version=(
                (6, "${ORIGINAL_NAME}_S"),
                (7, "${ORIGINAL_NAME}_S${SLAVE_NUMBER_ID}"),
            ),
        ),
        P("resamplingType", "enum", "NEAREST_NEIGHBOUR", allowed=COLLOCATE_RESAMPLING),
        P("sourceProductPaths", "string[]", since=7),
        P("masterProductName", "string", since=7, until=9),
        P("referenceProductName", "string", since=10),
        P("copySecondaryMetadata", "bool", "false", since=10),
        P("renameReferenceComponents", "bool", "true", since=10),
        P("renameSecondaryComponents", "bool", "true", since=10),
        P("referenceComponentPattern", "string", "${ORIGINAL_NAME}_M", since=10),
        P("secondaryComponentPattern", "string", "${ORIGINAL_NAME}_S${SLAVE_NUMBER_ID}", since=10),
    ),
    (
        SourceSpec("masterProduct", ("master",), until=6),
        SourceSpec("slaveProduct", ("slave",), until=6),
        SourceSpec("master", optional=True, since=7, until=9),
        SourceSpec("slaveProduct", ("slave",), optional=True, since=7, until=9),
        SourceSpec("reference", optional=True, since=10),
        SourceSpec("secondary", optional=True, since=10),
        SourceSpec("sourceProducts", multi=True, since=7),
    ),
    min_sources=2,
    note="SNAP 10 renamed master/slave to reference/secondary (sources and parameters)",
)

# ---- SAR (s1tbx <= 9, microwave-toolbox >= 10) -----------------------------------------------
REMOVE_GRD_BORDER_NOISE = OperatorSpec(
    "Remove-GRD-Border-Noise",
    "RemoveGRDBorderNoiseOp",
    (
        P("selectedPolarisations", "string[]"),
        P("borderLimit", "int", "500"),
        P("trimThreshold", "float", "0.5"),
    ),
    _SOURCE_NO_ALIAS,
    min_sources=1,
    note="GRD only; input must not be calibrated (place before Calibration)",
)
THERMAL_NOISE_REMOVAL = OperatorSpec(
    "ThermalNoiseRemoval",
    "Sentinel1RemoveThermalNoiseOp",
    (
        P("selectedPolarisations", "string[]"),
        P("removeThermalNoise", "bool", "true"),
        P("reIntroduceThermalNoise", "bool", "false"),
        P("outputNoise", "bool", "false", since=9),
        P("clipNegativeValues", "bool", "true", since=14),  # <= 13 always clips to 1e-5
    ),
    _SOURCE_NO_ALIAS,
    min_sources=1,
    note="reads the original annotation: intermediates must keep the metadata",
)
APPLY_ORBIT_FILE = OperatorSpec(
    "Apply-Orbit-File",
    "ApplyOrbitFileOp",
    (
        P(
            "orbitType",
            "string",
            "Sentinel Precise (Auto Download)",
            allowed=_ORBIT_TYPES,
            values_since=(("Biomass Precise (MAAP) (Auto Download)", 14),),
        ),
        P("polyDegree", "int", "3"),
        P("continueOnFail", "bool", "false"),
    ),
    _SOURCE,
    min_sources=1,
)
CALIBRATION = OperatorSpec(
    "Calibration",
    "CalibrationOp",
    (
        P("sourceBands", "string[]", aliases=("sourceBandNames",)),
        P("auxFile", "string", "Latest Auxiliary File", allowed=_AUX_FILES),
        P("externalAuxFile", "path"),
        P("outputImageInComplex", "bool", "false"),
        P("outputImageScaleInDb", "bool", "false"),
        P("createGammaBand", "bool", "false"),
        P("createBetaBand", "bool", "false"),
        P("selectedPolarisations", "string[]"),
        P("outputSigmaBand", "bool", "true"),
        P("outputGammaBand", "bool", "false"),
        P("outputBetaBand", "bool", "false"),
    ),
    _SOURCE,
    min_sources=1,
    note="output bands Sigma0_<POL>, Gamma0_<POL>, Beta0_<POL>",
)
SPECKLE_FILTER = OperatorSpec(
    "Speckle-Filter",
    "SpeckleFilterOp",
    (
        P("sourceBands", "string[]", aliases=("sourceBandNames",)),
        P("filter", "string", "Lee Sigma", allowed=SPECKLE_FILTERS, values_since=(("MuLoG", 14),)),
        # Boxcar, Median, Frost, Gamma Map and Lee use filterSizeX/Y; Refined Lee is a fixed
        # 7x7 window; Lee Sigma uses windowSize (+ sigmaStr, targetWindowSizeStr, numLooksStr).
        P("filterSizeX", "int", "3", interval="(1, 100]"),
        P("filterSizeY", "int", "3", interval="(1, 100]"),
        P("dampingFactor", "int", "2", interval="(0, 100]"),  # Frost only
        P("estimateENL", "bool", "false"),  # annotation default wins over the field's true
        P("enl", "float", "1.0", interval="(0, *)"),
        P("numLooksStr", "string", "1", allowed=("1", "2", "3", "4")),
        P("windowSize", "string", "7x7", allowed=LEE_SIGMA_WINDOWS),
        P("targetWindowSizeStr", "string", "3x3", allowed=("3x3", "5x5")),
        P("sigmaStr", "string", "0.9", allowed=("0.5", "0.6", "0.7", "0.8", "0.9")),
        P("anSize", "int", "50", interval="(1, 200]"),  # IDAN only
    ),
    _SOURCE,
    min_sources=1,
)
TERRAIN_CORRECTION = OperatorSpec(
    "Terrain-Correction",
    "RangeDopplerGeocodingOp",
    (
        P("sourceBands", "string[]", aliases=("sourceBandNames",)),
        P(
            "demName",
            "string",
            "Copernicus 30m Global DEM",
            default_by_version=((6, "SRTM 3Sec"), (14, "Copernicus 30m Global DEM")),
        ),
        P("externalDEMFile", "path"),
        P("externalDEMNoDataValue", "float", "0"),
        P("externalDEMApplyEGM", "bool", "true"),
        P("demResamplingMethod", "string", "BILINEAR_INTERPOLATION", allowed=_TC_DEM_RESAMPLING),
        P("imgResamplingMethod", "string", "BILINEAR_INTERPOLATION", allowed=_TC_IMG_RESAMPLING),
        P("pixelSpacingInMeter", "float", "0"),  # 0: from the source
        P("pixelSpacingInDegree", "float", "0"),
        P("mapProjection", "string", "WGS84(DD)"),  # WKT, EPSG:n, AUTO:42001 (UTM of centre)
        P("alignToStandardGrid", "bool", "false"),
        P("standardGridOriginX", "float", "0"),
        P("standardGridOriginY", "float", "0"),
        P("nodataValueAtSea", "bool", "true"),
        P("saveDEM", "bool", "false"),
        P("saveLatLon", "bool", "false"),
        P("saveIncidenceAngleFromEllipsoid", "bool", "false"),
        P("saveLocalIncidenceAngle", "bool", "false"),
        P("saveProjectedLocalIncidenceAngle", "bool", "false"),
        P("saveSelectedSourceBand", "bool", "true"),
        P("outputComplex", "bool", "false"),
        P("applyRadiometricNormalization", "bool", "false"),
        P("saveSigmaNought", "bool", "false"),
        P("saveGammaNought", "bool", "false"),
        P("saveBetaNought", "bool", "false"),
        P("incidenceAngleForSigma0", "string", _INCIDENCE[2], allowed=_INCIDENCE),
        P("incidenceAngleForGamma0", "string", _INCIDENCE[2], allowed=_INCIDENCE),
        P("auxFile", "string", "Latest Auxiliary File", allowed=_AUX_FILES),
        P("externalAuxFile", "path"),
        P("saveLayoverShadowMask", "bool", "false", since=9),
        P("applyAPDCorrection", "bool", "false", since=14),
    ),
    _SOURCE,
    min_sources=1,
    note="refuses map-projected input",
)

# ---- optical (s2tbx <= 9, optical-toolbox >= 10) ---------------------------------------------
S2_RESAMPLING = OperatorSpec(
    "S2Resampling",
    "S2ResamplingOp",
    (
        P("resolution", "string", "60", allowed=("10", "20", "60"), aliases=("targetResolution",)),
        P("upsampling", "string", "Bilinear", allowed=_UPSAMPLING, aliases=("upsamplingMethod",)),
        P("downsampling", "string", "Mean", allowed=_DOWNSAMPLING, aliases=("downsamplingMethod",)),
        P(
            "flagDownsampling",
            "string",
            "First",
            allowed=_FLAG_DOWNSAMPLING,
            aliases=("flagDownsamplingMethod",),
        ),
        P("resampleOnPyramidLevels", "bool", "true"),
        P("bands", "string[]", "", since=11),
        P("masks", "string[]", "", since=11),
    ),
    _SOURCE_NO_ALIAS,
    min_sources=1,
    since=8,
    note="needs the optical toolbox (s2tbx); Resample is the always-present generic operator",
)

# ---- Sen2Cor standalone tool adapters (plugins; ToolAdapterOp, unnamed sources) ---------------
_S2C_COMMON_HEAD = (
    P("targetProductFile", "path"),
    P("postExecuteTemplate", "path", "Sen2Cor-post-template.vm"),
    P("sceneOnly", "bool"),
    P("resolution", "string", "60", allowed=("10", "20", "60", "ALL")),
    P("crOnly", "bool", "false"),
    P("useL2AGIPP", "path"),
)
_S2C_ATMOSPHERE = (
    P("medianFilter", "int", "0"),
    P("aerosol", "string", "RURAL"),
    P("midLat", "string", "SUMMER"),
    P("ozone", "string", "h - 331", allowed=_OZONE),
    P("wvCorrection", "int", "1"),
    P("visUpdateMode", "int", "1"),
    P("wvWatermask", "int", "1"),
    P("cirrusCorrection", "string", "FALSE"),
)
_S2C_TAIL = (
    P("brdfCorrection", "int", "0"),
    P("brdfLower", "float", "0.22"),
    P("visibility", "float", "23.0"),
    P("altitude", "float", "0.1"),
    P("wvThresCirrus", "float", "0.25"),
)
_S2C_OUTPUTS = (
    P("demDirectory", "string", "NONE"),
    P("demReference", "string"),  # a download URL (single-value set) in the descriptor
)
_S2C_OUTPUTS_2 = (
    P("adjacencyRange", "float", "1.0"),
    P("smoothWVMap", "float", "100.0"),
    P("generateDEMoutput", "string", "FALSE"),
    P("generateTCIoutput", "string", "TRUE"),
    P("generateDDVoutput", "string", "FALSE"),
)
_SEN2COR_255_PARAMS = (
    *_S2C_COMMON_HEAD,
    P("gip25L2A", "path", "Sen2Cor-gipp-template.xsl"),
    P("gipL2A", "path", "Sen2Cor-gipp-template.xsl"),
    P("nbProcesses", "int", "1"),
    *_S2C_ATMOSPHERE,
    *_S2C_TAIL,
    *_S2C_OUTPUTS,
    P("demUnit", "string", "0", allowed=("0", "1", "2")),
    *_S2C_OUTPUTS_2,
)


def _sen2cor_28x_params(gipp_param: str, gipp_template: str) -> tuple[ParamSpec, ...]:
    return (
        *_S2C_COMMON_HEAD,
        P(gipp_param, "path", gipp_template),
        P("nbThreads", "string", "AUTO"),
        *_S2C_ATMOSPHERE,
        P("DEMTerrainCorrection", "string", "FALSE"),
        *_S2C_TAIL,
        P("compressionLevel", "string", "0"),
        *_S2C_OUTPUTS,
        *_S2C_OUTPUTS_2,
        P("Downsample_20_to_60", "string", "TRUE"),
    )


# Sen2Cor 2.11's GIPP-style float parameters (name -> default).
_SEN2COR_211_FLOATS = dict(
    BRDF_Lower_Bound="0.22", Adjacency_Range="1.000", Visibility="40.0", Altitude="0.100",
    Smooth_WV_Map="100.0", WV_Threshold_Cirrus="0.25", T1_B02="0.18", T2_B02="0.22",
    T1_B04="0.06", T2_B04="0.25", T1_B8A="0.15", T2_B8A="0.35", T1_B10="0.012", T2_B10="0.035",
    T1_B12="0.25", T2_B12="0.12", T_B02_B12="0.018", T_CLOUD_LP="0.0", T_CLOUD_MP="0.20",
    T_CLOUD_HP="0.80", T1_NDSI_CLD="-0.24", T2_NDSI_CLD="-0.16", T1_NDSI_SNW="0.35",
    T2_NDSI_SNW="0.50", T1_NDVI="0.36", T2_NDVI="0.42", T1_SNOW="0.12", T2_SNOW="0.25",
    T1_R_B02_B04="0.85", T2_R_B02_B04="0.95", T1_R_B8A_B03="1.50", T2_R_B8A_B03="2.50",
    T1_R_B8A_B11="0.90", T2_R_B8A_B11="1.10", T11_B02="-0.40", T12_B02="0.46",
    T11_R_B02_B11="0.70", T12_R_B02_B11="1.0", T21_R_B02_B11="2.00", T22_R_B02_B11="4.00",
    T21_B12="0.1", T22_B12="-0.09", RV_B2="6.96000", RV_B3="5.26667", RV_B4="5.37708",
    RV_B8="7.52000", RV_B11="5.45000", RV_B12="2.55000", T_SDW="0.75", fwhm_Band_B1="0.020",
    fwhm_Band_B2="0.065", fwhm_Band_B3="0.035", fwhm_Band_B4="0.030", fwhm_Band_B5="0.015",
    fwhm_Band_B6="0.015", fwhm_Band_B7="0.020", fwhm_Band_B8="0.115", fwhm_Band_B8A="0.020",
    fwhm_Band_B9="0.020", fwhm_Band_B10="0.030", fwhm_Band_B11="0.090", fwhm_Band_B12="0.180",
    min_sc_blu="0.9", max_sc_blu="1.1",
    wavelength_Band_B1="0.443", wavelength_Band_B1_C0="0.00000", wavelength_Band_B1_C1="0.001",
    wavelength_Band_B2="0.490", wavelength_Band_B2_C0="0.00000", wavelength_Band_B2_C1="0.001",
    wavelength_Band_B3="0.560", wavelength_Band_B3_C0="0.00000", wavelength_Band_B3_C1="0.001",
    wavelength_Band_B4="0.665", wavelength_Band_B4_C0="0.00000", wavelength_Band_B4_C1="0.001",
    wavelength_Band_B5="0.705", wavelength_Band_B5_C0="0.00000", wavelength_Band_B5_C1="0.001",
    wavelength_Band_B6="0.740", wavelength_Band_B6_C0="0.00000", wavelength_Band_B6_C1="0.001",
    wavelength_Band_B7="0.783", wavelength_Band_B7_C0="0.00000", wavelength_Band_B7_C1="0.001",
    wavelength_Band_B8="0.842", wavelength_Band_B8_C0="0.00000", wavelength_Band_B8_C1="0.001",
    wavelength_Band_B8A="0.865", wavelength_Band_B8A_C0="0.00000", wavelength_Band_B8A_C1="0.001",
    wavelength_Band_B9="0.945", wavelength_Band_B9_C0="0.00000", wavelength_Band_B9_C1="0.001",
    wavelength_Band_B10="1.375", wavelength_Band_B10_C0="0.00000",
    wavelength_Band_B10_C1="0.0005", wavelength_Band_B11="1.610",
    wavelength_Band_B11_C0="0.00000", wavelength_Band_B11_C1="0.0002",
    wavelength_Band_B12="2.190", wavelength_Band_B12_C0="0.00000",
    wavelength_Band_B12_C1="0.00005",
    AC_Min_Ddv_Area="2.0", AC_Swir_Refl_Lower_Th="0.01", AC_Swir_22um_Red_Refl_Ratio="0.5",
    AC_Red_Blue_Refl_Ratio="0.5", AC_Cut_Off_Aot_Iter_Vegetation="0.01",
    AC_Cut_Off_Aot_Iter_Water="-0.005", AC_Aerosol_Type_Ratio_Th="0.05", AC_Topo_Corr_Th="0.01",
    AC_Slope_Th="6.0", AC_Dem_P2p_Val="50.0", AC_Swir_Refl_Ndvi_Th="0.10",
    AC_Ddv_Swir_Refl_Th1="0.05", AC_Ddv_Swir_Refl_Th2="0.10", AC_Ddv_Swir_Refl_Th3="0.12",
    AC_Ddv_16um_Refl_Th1="0.10", AC_Ddv_16um_Refl_Th2="0.15", AC_Ddv_16um_Refl_Th3="0.18",
    AC_Dbv_Nir_Refl_Th="0.35", AC_Dbv_Ndvi_Th="0.66", AC_Red_Ref_Refl_Th="0.02",
    AC_Dbv_Red_Veget_Tst_Ndvi_Th="0.40", AC_Dbv_Red_Veget_Refl_Th="0.15",
    AC_Wv_Iter_Start_Summer="1.0", AC_Wv_Iter_Start_Winter="0.4", AC_Rng_Nbhd_Terrain_Corr="0.5",
    AC_Max_Nr_Topo_Iter="3", AC_Topo_Corr_Cutoff="1.5", AC_Vegetation_Index_Th="3.0",
    AC_Limit_Area_Path_Rad_Scale="0", AC_Ddv_Smooting_Window="1.0", AC_Terrain_Refl_Start="0.1",
    AC_Spr_Refl_Percentage="0.25", AC_Spr_Refl_Promille="0.3",
)  # fmt: skip

_SEN2COR_211_PARAMS = (
    P("targetProductFile", "path"),
    P("postExecuteTemplate", "path", "Sen2Cor-post-template.vm"),
    P("mode", "string", "TOOLBOX", allowed=("TOOLBOX", "generate_datastrip", "process_tile")),
    P("resolution", "string", "60", allowed=("10", "20", "60", "ALL")),
    P("datastrip", "path"),
    P("tile", "path"),
    P("outputDir", "path"),
    P("workDir", "path"),
    P("imgDatabaseDir", "path"),
    P("resDatabaseDir", "path"),
    P("processingCentre", "string"),
    P("archivingCentre", "string"),
    P("processingBaseline", "string"),
    P("raw", "bool"),
    P("tif", "bool"),
    P("sceneOnly", "bool"),
    P("sceneClassification", "bool"),
    P("sceneCog", "bool"),
    P("creationOnly", "bool", "false"),
    P("Use_L2A_GIPP", "path"),
    P("gip211L2A", "path", "Sen2Cor-gipp211-template.xsl"),
    P("row0", "string", "OFF"),
    P("col0", "string", "OFF"),
    P("n_row_win", "string", "1200"),
    P("n_col_win", "string", "1200"),
    P("Nr_Threads", "string", "AUTO", allowed=("AUTO", "1", "2", "3", "4", "5", "6", "7", "8")),
    P("Product_Generator", "string", "NONE"),
    P("DEM_Directory", "string", "NONE"),
    P("DEM_Reference", "string", "NONE"),
    P("Generate_DEM_Output", "string", "FALSE", allowed=_TF),
    P("Force_Exit_On_DEM_Error", "string", "FALSE", allowed=_TF),
    P("Generate_TCI_Output", "string", "TRUE", allowed=_TF),
    P("Generate_DDV_Output", "string", "FALSE", allowed=_TF),
    P("Handle_L1C_QLT_Mask", "string", "FALSE", allowed=_TF),
    P("Downsample_20_to_60", "string", "TRUE", allowed=_TF),
    P(
        "PSD_Version",
        "string",
        "DEFAULT",
        allowed=("DEFAULT", "14.2", "14.6", "14.7", "14.8", "14.9"),
    ),
    P("Median_Filter", "int", "0"),
    P("Aerosol_Type", "string", "RURAL", allowed=("RURAL", "MARITIME", "AUTO")),
    P("Mid_Latitude", "string", "SUMMER", allowed=("SUMMER", "WINTER", "AUTO")),
    P("Ozone_Content", "string", "0", allowed=_OZONE),
    P("WV_Correction", "int", "1", allowed=("0", "1")),
    P("VIS_Update_Mode", "int", "1", allowed=("0", "1")),
    P("WV_Watermask", "int", "1", allowed=("0", "1", "2")),
    P("Cirrus_Correction", "string", "FALSE", allowed=_TF),
    P("DEM_Terrain_Correction", "string", "TRUE", allowed=_TF),
    P("BRDF_Correction", "int", "0", allowed=("0", "1", "2")),
    P("Database_Compression_Level", "string", "0", allowed=tuple(str(i) for i in range(10))),
    P("Use_L2A_CAL_SC_GIPP", "path"),
    P("gip211L2ACALSC", "path", "Sen2Cor-cal-sc-gipp211-template.xsl"),
    P("Use_L2A_CAL_AC_GIPP", "path"),
    P("gip211L2ACALAC", "path", "Sen2Cor-cal-ac-gipp211-template.xsl"),
    P("Scaling_Limiter", "bool", "TRUE"),
    P("Scaling_Disabler", "bool", "TRUE"),
    P("Rho_Retrieval_Step2", "bool", "TRUE"),
    P("Lib_Dir", "string", "lib"),
    P("Use_L2A_PB_GIPP", "path"),
    P("gip211L2APB", "path", "Sen2Cor-pb-gipp211-template.xsl"),
    P("workflow", "string", "l2a"),
    P("IDP_SC_Name", "string", "Sen2Cor"),
    P("IDP_SC_Version", "string", "02.11.00"),
    P("Baseline_Version", "string", "02.11"),
    *(P(name, "float", default) for name, default in _SEN2COR_211_FLOATS.items()),
)

_STA = "ToolAdapterOp"
SEN2COR_ADAPTERS = (
    OperatorSpec("Sen2Cor v2.5.5", _STA, _SEN2COR_255_PARAMS, _UNNAMED, 1, note="plugin sen2cor"),
    OperatorSpec("Sen2Cor255", _STA, _SEN2COR_255_PARAMS, _UNNAMED, 1, note="plugin sen2cor255"),
    OperatorSpec(
        "Sen2Cor280",
        _STA,
        _sen2cor_28x_params("gip28L2A", "Sen2Cor-gipp28-template.xsl"),
        _UNNAMED,
        1,
        note="plugin sen2cor280",
    ),
    OperatorSpec(
        "Sen2Cor290",
        _STA,
        _sen2cor_28x_params("gip29L2A", "Sen2Cor-gipp29-template.xsl"),
        _UNNAMED,
        1,
        note="plugin sen2cor290",
    ),
    OperatorSpec(
        "Sen2Cor 2.11.0", _STA, _SEN2COR_211_PARAMS, _UNNAMED, 1, note="plugin sen2cor211"
    ),
)

#: Every operator of the built-in catalogue, across SNAP 6 ... 14.
OPERATORS: tuple[OperatorSpec, ...] = (
    READ,
    WRITE,
    REMOVE_GRD_BORDER_NOISE,
    THERMAL_NOISE_REMOVAL,
    APPLY_ORBIT_FILE,
    CALIBRATION,
    SPECKLE_FILTER,
    TERRAIN_CORRECTION,
    LINEAR_TO_FROM_DB,
    SUBSET,
    RESAMPLE,
    S2_RESAMPLING,
    REPROJECT,
    COLLOCATE,
    BAND_MATHS,
    *SEN2COR_ADAPTERS,
)

_SPECS = {op.alias: op for op in OPERATORS}


_WARNED: set[SnapVersion] = set()


def known_major(version: SnapVersion) -> int:
    """The SNAP major the built-in catalogue uses for ``version``: clamped to 6 ... 14, with a
    warning logged once per version outside that range."""
    major = version.major
    if major < OLDEST or major > NEWEST:
        nearest = min(max(major, OLDEST), NEWEST)
        if version in _WARNED:
            return nearest
        _WARNED.add(version)
        LOGGER.warning(
            "SNAP %s is outside the versions the built-in catalogue knows (%d ... %d); "
            "using SNAP %d's operator parameters",
            version,
            OLDEST,
            NEWEST,
            nearest,
        )
        return nearest
    return major


@functools.cache
def _catalogue_for_major(major: int) -> Catalogue:
    ops = tuple(op.for_version(major) for op in OPERATORS if op.available(major))
    return Catalogue(ops, SnapVersion(major), "built-in")


def catalogue_for(version: SnapVersion) -> Catalogue:
    """The built-in catalogue resolved for ``version`` (majors outside 6 ... 14: the nearest).

    The returned catalogue's ``version`` is the major actually used, e.g. ``SnapVersion(14)``
    for SNAP 15.
    """
    return _catalogue_for_major(known_major(version))


def spec(alias: str) -> OperatorSpec | None:
    """The version-spanning built-in spec of operator ``alias`` (for hints), or None."""
    return _SPECS.get(alias)


def param_majors(alias: str, element_name: str) -> list[int]:
    """SNAP majors in which operator ``alias`` accepts parameter element ``element_name``."""
    op = _SPECS.get(alias)
    if op is None:
        return []
    return [
        m
        for m in KNOWN_MAJORS
        if any(p.available(m) and element_name in p.names() for p in op.params)
    ]


def source_majors(alias: str, element_name: str) -> list[int]:
    """SNAP majors in which ``element_name`` is a named source of operator ``alias``."""
    op = _SPECS.get(alias)
    if op is None:
        return []
    return [
        m
        for m in KNOWN_MAJORS
        if any(s.available(m) and not s.multi and element_name in s.names() for s in op.sources)
    ]


def majors_text(majors: Iterable[int]) -> str:
    """``[7, 8, 9]`` -> ``"7-9"``; ``[14]`` -> ``"14"``."""
    ms = sorted(majors)
    if not ms:
        return "none"
    runs: list[str] = []
    start = prev = ms[0]
    for m in [*ms[1:], None]:
        if m is not None and m == prev + 1:
            prev = m
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if m is not None:
            start = prev = m
    return ", ".join(runs)
