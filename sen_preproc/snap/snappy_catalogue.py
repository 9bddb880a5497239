"""Build a :class:`~sen_preproc.snap.catalogue.Catalogue` from an installed SNAP via esa_snappy.

With the optional extra ``snap`` (``pip install senprep[snap]``, module ``esa_snappy``)
configured against a SNAP installation, GPF's operator registry describes exactly the
operators and parameters that SNAP has — including plugin updates between releases. This module
reads it for the aliases our graphs use, so that graphs can be validated against the installed
SNAP and the built-in catalogue compared with it
(:func:`sen_preproc.snap.validate.diff_catalogues`).

All access to the Java API is in :func:`operator_descriptors` (a stand-in module with the same
shape is enough for tests); the rest works on the returned descriptor objects by duck typing:
``OperatorDescriptor.getParameterDescriptors()`` (``getName``, ``getAlias``,
``getDefaultValue``, ``getValueSet``, ``isNotNull``, ``isNotEmpty``, ``getDataType``,
``getInterval``, ``getItemAlias``), ``getSourceProductDescriptors()`` (``getName``,
``getAlias``, ``isOptional``) and ``getSourceProductsDescriptor()``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from sen_preproc.snap import catalogue as cat
from sen_preproc.snap.catalogue import Catalogue, OperatorSpec, ParamSpec, SourceSpec
from sen_preproc.snap.version import SnapVersion

LOGGER = logging.getLogger(__name__)

_JAVA_TYPES = {
    "java.lang.String": "string",
    "boolean": "bool",
    "java.lang.Boolean": "bool",
    "int": "int",
    "java.lang.Integer": "int",
    "long": "int",
    "java.lang.Long": "int",
    "short": "int",
    "java.lang.Short": "int",
    "byte": "int",
    "java.lang.Byte": "int",
    "double": "float",
    "java.lang.Double": "float",
    "float": "float",
    "java.lang.Float": "float",
    "java.io.File": "path",
    "[Ljava.lang.String;": "string[]",
    "java.awt.Rectangle": "rectangle",
}


def load_installed_catalogue(
    version: SnapVersion | None = None, aliases: Iterable[str] | None = None
) -> Catalogue | None:
    """The catalogue of the SNAP that esa_snappy is configured for, or None.

    Parameters
    ----------
    version
        The SNAP version to label the catalogue with; None: asked from SNAP when possible.
    aliases
        Operator aliases to read; default: those of the built-in catalogue.

    Returns
    -------
    Catalogue or None
        None (logged, never raised) when ``esa_snappy`` is not installed, not configured
        (no SNAP/JVM found) or its registry cannot be read.
    """
    try:
        import esa_snappy
    except Exception as exc:  # ImportError, or RuntimeError/SystemExit-like setup failures
        LOGGER.info("esa_snappy is not usable (%s); no installed-SNAP catalogue", exc)
        return None
    wanted = list(aliases) if aliases is not None else [op.alias for op in cat.OPERATORS]
    try:
        descriptors = operator_descriptors(esa_snappy, wanted)
        if version is None:
            version = _installed_version(esa_snappy)
        return catalogue_from_descriptors(descriptors, version, origin="esa_snappy")
    except Exception as exc:  # Java exceptions surface as RuntimeError through jpy
        LOGGER.warning("could not read SNAP's operator registry through esa_snappy: %s", exc)
        return None


def operator_descriptors(module: ModuleType, aliases: Iterable[str]) -> dict[str, Any]:
    """alias -> ``OperatorDescriptor`` from GPF's registry (absent operators are left out).

    The only function here that calls into SNAP's Java API.
    """
    registry = module.GPF.getDefaultInstance().getOperatorSpiRegistry()
    if hasattr(registry, "loadOperatorSpis"):
        registry.loadOperatorSpis()
    found: dict[str, Any] = {}
    for alias in aliases:
        spi = registry.getOperatorSpi(alias)
        if spi is not None:
            found[alias] = spi.getOperatorDescriptor()
    return found


def catalogue_from_descriptors(
    descriptors: Mapping[str, Any], version: SnapVersion | None, origin: str = "esa_snappy"
) -> Catalogue:
    """A catalogue from ``alias -> OperatorDescriptor`` objects (Java or stand-ins)."""
    ops = tuple(operator_from_descriptor(alias, d) for alias, d in descriptors.items())
    return Catalogue(ops, version, origin)


def operator_from_descriptor(alias: str, descriptor: Any) -> OperatorSpec:
    """One :class:`OperatorSpec` from an ``OperatorDescriptor``."""
    params = tuple(_param(p) for p in _items(descriptor.getParameterDescriptors()))
    sources: list[SourceSpec] = []
    for src in _items(descriptor.getSourceProductDescriptors()):
        name = str(src.getName())
        src_alias = _text(src.getAlias())
        aliases = (src_alias,) if src_alias and src_alias != name else ()
        sources.append(SourceSpec(name, aliases, optional=bool(src.isOptional())))
    multi = _call(descriptor, "getSourceProductsDescriptor")
    if multi is not None:
        sources.append(SourceSpec("sourceProducts", multi=True))
    built_in = cat.spec(alias)
    if built_in is not None:
        min_sources = built_in.min_sources
    else:
        mandatory = sum(1 for s in sources if not s.multi and not s.optional)
        min_sources = max(mandatory, 1 if sources else 0)
    java_class = alias
    op_class = _call(descriptor, "getOperatorClass")
    if op_class is not None:
        java_class = str(_call(op_class, "getSimpleName") or _call(op_class, "getName") or alias)
        java_class = java_class.rsplit(".", 1)[-1]
    return OperatorSpec(alias, java_class, params, tuple(sources), min_sources=min_sources)


def _param(p: Any) -> ParamSpec:
    field_name = str(p.getName())
    alias = _text(p.getAlias())
    name = alias or field_name
    aliases = (field_name,) if alias and alias != field_name else ()
    default = _text(p.getDefaultValue(), keep_empty=True)
    value_set = p.getValueSet()
    allowed = tuple(str(v) for v in _items(value_set)) or None
    data_type = p.getDataType()
    kind = _type_name(data_type, _text(_call(p, "getItemAlias")))
    if kind == "enum" and allowed is None:
        constants = _call(data_type, "getEnumConstants")
        names = tuple(str(_call(c, "name") or c) for c in _items(constants))
        allowed = names or None
    not_null = bool(_call(p, "isNotNull")) or bool(_call(p, "isNotEmpty"))
    required = not_null and not default
    return ParamSpec(
        name,
        kind,
        default,
        allowed,
        required=required,
        aliases=aliases,
        interval=_text(_call(p, "getInterval")),
    )


def _type_name(data_type: Any, item_alias: str | None) -> str:
    if data_type is None:
        return "string"
    java = str(_call(data_type, "getName") or data_type)
    if java in _JAVA_TYPES:
        return _JAVA_TYPES[java]
    if _call(data_type, "isEnum"):
        return "enum"
    if java.endswith("Polygon"):
        return "polygon"
    if java.endswith("Geometry"):
        return "geometry"
    if java.startswith("[") or item_alias:
        return "list"
    return "string"


def _installed_version(module: ModuleType) -> SnapVersion | None:
    utils = getattr(module, "SystemUtils", None)
    text = _call(utils, "getReleaseVersion") if utils is not None else None
    if not text:
        return None
    try:
        return SnapVersion.parse(str(text))
    except ValueError:
        return None


def _call(obj: Any, method: str) -> Any:
    fn = getattr(obj, method, None)
    return fn() if callable(fn) else None


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value)


def _text(value: Any, *, keep_empty: bool = False) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if (text or keep_empty) else None
