"""Check a GPT graph against an operator catalogue before gpt sees it.

:func:`validate_graph` finds, in pure Python, what gpt would reject (or silently get wrong) for a
given SNAP version: the graph format version, duplicate node ids, unknown operators, unknown
parameter elements (gpt: ``Unknown element 'x'``), values outside a value set (exact strings, as
GPF compares them), missing required parameters, values of the wrong type, unknown or missing
source elements, references to nodes that do not exist, graphs with no Write node or with a
terminal node that writes nothing, and a few cross-parameter rules operators check in
``initialize()``. Every message names the node id, the parameter, the bad value, the SNAP
version and the fix.

:func:`diff_catalogues` lists the differences between two catalogues (e.g. the built-in one and
one read from an installed SNAP).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from sen_preproc.errors import GraphError
from sen_preproc.snap import catalogue as cat
from sen_preproc.snap.catalogue import Catalogue, OperatorSpec, ParamSpec
from sen_preproc.snap.graph import Graph, Node, ParamValue, placeholders, substitute
from sen_preproc.snap.version import KNOWN_MAJORS, SnapVersion

_INT_RE = re.compile(r"[+-]?\d+")
# java.lang.Double.parseDouble: decimal/exponent forms, NaN, Infinity, optional f/d suffix.
_FLOAT_RE = re.compile(r"[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?)")
_UNNAMED_SOURCE_RE = re.compile(r"sourceProduct(\.?\d+)?")
_JAVA_INT = (-(2**31), 2**31 - 1)


def validate_graph(
    graph: Graph,
    version: SnapVersion,
    catalogue: Catalogue | None = None,
    variables: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`GraphError` listing every problem gpt of SNAP ``version`` would have.

    Parameters
    ----------
    graph
        The graph (placeholders allowed).
    version
        The SNAP version to check against.
    catalogue
        Operator catalogue; default :func:`sen_preproc.snap.catalogue.catalogue_for(version)`.
        Pass one read from the installed SNAP (:mod:`sen_preproc.snap.snappy_catalogue`) to
        check against exactly what is installed.
    variables
        Values for the graph's ``${name}`` placeholders. ``None``: values that are still
        placeholders are not checked. A mapping: placeholders are substituted first and an
        undefined one is an error.
    """
    if catalogue is None:
        catalogue = cat.catalogue_for(version)
    checker = _Checker(graph, version, catalogue, variables)
    problems = checker.run()
    if not problems:
        return
    if len(problems) == 1:
        raise GraphError(problems[0])
    lines = "\n".join(f"  - {p}" for p in problems)
    raise GraphError(
        f"graph {graph.graph_id!r} has {len(problems)} problems for SNAP {version}:\n{lines}"
    )


class _Checker:
    def __init__(
        self,
        graph: Graph,
        version: SnapVersion,
        catalogue: Catalogue,
        variables: Mapping[str, str] | None,
    ) -> None:
        self.graph = graph
        self.version = version
        self.catalogue = catalogue
        self.variables = variables
        self.problems: list[str] = []
        self.snap = f"SNAP {version}"

    def add(self, text: str) -> None:
        self.problems.append(text)

    # ---- whole graph -----------------------------------------------------------------------
    def run(self) -> list[str]:
        graph = self.graph
        if graph.version is None:
            self.add(
                f"graph {graph.graph_id!r} has no <version> element (gpt: 'No version'); "
                "add <version>1.0</version> after <graph>"
            )
        elif graph.version != "1.0":
            self.add(
                f"graph {graph.graph_id!r} has <version>{graph.version}</version> (gpt: 'Wrong "
                "version'); gpt only reads <version>1.0</version>"
            )
        seen: set[str] = set()
        for node in graph.nodes:
            if node.id in seen:
                self.add(
                    f"[NodeId: {node.id}] node ID duplicated (gpt refuses the graph); give each "
                    "<node> a unique id"
                )
            seen.add(node.id)
        if self.variables is not None:
            missing = sorted(graph.variables() - set(self.variables))
            if missing:
                self.add(
                    f"graph {graph.graph_id!r} uses undefined variable(s) {missing}; give a "
                    "value for each (gpt would leave '${{name}}' in the XML verbatim)"
                )
        for node in graph.nodes:
            self.check_node(node)
        self.check_outputs()
        return self.problems

    def check_outputs(self) -> None:
        graph = self.graph
        writes = [n for n in graph.nodes if n.operator == "Write"]
        if not writes:
            self.add(
                f"graph {graph.graph_id!r} has no Write node (gpt would append one writing "
                "target.dim as BEAM-DIMAP); add a Write node with file and formatName"
            )
        referenced = {ref for n in graph.nodes for ref in self.resolved_source_ids(n)}
        for node in graph.nodes:
            if node.id not in referenced and node.operator != "Write":
                self.add(
                    f"[NodeId: {node.id}] {node.operator} is a terminal node that is not a Write "
                    f"node: gpt computes it but writes nothing; connect it to a Write node or "
                    "remove it"
                )
        try:
            graph.chain()
        except GraphError as exc:
            self.add(str(exc))

    # ---- one node --------------------------------------------------------------------------
    def check_node(self, node: Node) -> None:
        op = self.catalogue.operator(node.operator)
        if op is None:
            self.unknown_operator(node)
            return
        self.check_params(node, op)
        self.check_sources(node, op)
        self.check_rules(node, op)

    def unknown_operator(self, node: Node) -> None:
        hint = ""
        built_in = cat.spec(node.operator)
        if built_in is not None:
            majors = [m for m in KNOWN_MAJORS if built_in.available(m)]
            hint = f" (it exists from SNAP {majors[0]}; {built_in.note or 'install it'})"
        elif node.operator.startswith("Sen2Cor"):
            hint = " (install the matching Sen2Cor plugin)"
        close = [a for a in self.catalogue.aliases() if a.lower() == node.operator.lower()]
        if close:
            hint += f"; did you mean {close[0]!r}?"
        self.add(
            f"[NodeId: {node.id}] unknown operator {node.operator!r} in {self.snap}{hint}; use "
            f"one of the operators it has: {', '.join(sorted(self.catalogue.aliases()))}"
        )

    def check_params(self, node: Node, op: OperatorSpec) -> None:
        given: dict[str, str] = {}
        for name, value in node.parameters:
            spec = op.param(name)
            if spec is None:
                self.unknown_param(node, op, name)
                continue
            if spec.name in given:
                self.add(
                    f"[NodeId: {node.id}] parameter {spec.name!r} is given twice (as "
                    f"<{given[spec.name]}> and <{name}>); keep one"
                )
                continue
            given[spec.name] = name
            self.check_value(node, op, spec, name, value)
        for spec in op.params:
            if spec.required and not self.has_value(node, spec):
                self.add(
                    f"[NodeId: {node.id}] {op.alias}: missing required parameter {spec.name!r} "
                    f"in {self.snap}; add <{spec.name}>...</{spec.name}> to its <parameters>"
                )

    def unknown_param(self, node: Node, op: OperatorSpec, name: str) -> None:
        majors = cat.param_majors(op.alias, name)
        if majors:
            hint = f"'{name}' exists only in SNAP {cat.majors_text(majors)}"
            renamed = {v: k for k, v in cat.COLLOCATE_RENAMES_BEFORE_10.items()}
            if op.alias == "Collocate" and name in renamed and self.version.major >= 10:
                hint += f" (SNAP 10 renamed it to '{renamed[name]}')"
            elif op.alias == "Collocate" and name in cat.COLLOCATE_RENAMES_BEFORE_10:
                hint += f" (before SNAP 10 it is '{cat.COLLOCATE_RENAMES_BEFORE_10[name]}')"
            fix = f"{hint}; remove or rename the element"
        else:
            accepted = ", ".join(p.name for p in op.params)
            fix = f"remove the element; {op.alias} accepts: {accepted}"
        self.add(
            f"[NodeId: {node.id}] Operator '{op.java_class}': Unknown element '{name}' "
            f"({op.alias}, {self.snap}); {fix}"
        )

    def has_value(self, node: Node, spec: ParamSpec) -> bool:
        for name, value in node.parameters:
            if name in spec.names() and value is not None:
                text = self.effective(value) if isinstance(value, str) else "x"
                return text is None or text != ""
        return False

    def effective(self, text: str) -> str | None:
        """``text`` with variables substituted; None when it still holds a placeholder."""
        if not placeholders(text):
            return text
        if self.variables is None:
            return None
        return substitute(text, self.variables)

    def check_value(
        self, node: Node, op: OperatorSpec, spec: ParamSpec, name: str, value: ParamValue
    ) -> None:
        if value is None:
            return  # empty element: SNAP keeps the default
        where = f"[NodeId: {node.id}] {op.alias} parameter '{name}'"
        if isinstance(value, tuple):
            if spec.type != "list":
                self.add(
                    f"{where} has child elements, but it is a {spec.type} in {self.snap}; "
                    "write its value as text"
                )
            return
        if spec.type == "list":
            self.add(f"{where} needs child elements (e.g. <targetBand>...), not text {value!r}")
            return
        text = self.effective(value)
        if text is None or text == "":
            return
        problem = _type_problem(spec, text)
        if problem is not None:
            self.add(f"{where}: {problem} in {self.snap}")
            return
        allowed = spec.allowed
        if allowed is not None:
            items = [t.strip() for t in text.split(",")] if spec.type == "string[]" else [text]
            for item in items:
                if item not in allowed:
                    close = [a for a in allowed if a.lower() == item.lower()]
                    hint = f" (did you mean {close[0]!r}? the match is exact)" if close else ""
                    self.add(
                        f"{where}: value {item!r} is invalid in {self.snap} (GPF: Value for "
                        f"'{spec.name}' is invalid){hint}; use one of: "
                        f"{', '.join(repr(a) for a in allowed)}"
                    )
        if spec.interval is not None and spec.type in ("int", "float"):
            problem = _interval_problem(spec.interval, text)
            if problem is not None:
                self.add(f"{where}: value {text!r} {problem} in {self.snap}")

    # ---- sources -----------------------------------------------------------------------------
    def resolved_source_ids(self, node: Node) -> list[str]:
        ids: list[str] = []
        for ref in node.source_ids():
            text = self.effective(ref)
            if text is not None:
                ids.extend(p.strip() for p in text.split(",") if p.strip())
        return ids

    def check_sources(self, node: Node, op: OperatorSpec) -> None:
        ids = {n.id for n in self.graph.nodes}
        named_given: set[str] = set()
        count = 0
        for element, ref in node.sources:
            text = self.effective(ref)
            refs = [] if text is None else [p.strip() for p in text.split(",") if p.strip()]
            if text is not None and not refs:
                self.add(
                    f"[NodeId: {node.id}] source <{element}> names no node; set refid to the "
                    "id of the node it reads"
                )
            for target in refs:
                if target not in ids:
                    self.add(
                        f"[NodeId: {node.id}] source <{element}> refers to {target!r}, which is "
                        f"no node id of this graph; use one of {sorted(ids)}"
                    )
            count += max(len(refs), 1)
            named = op.source(element)
            if named is not None:
                named_given.add(named.name)
                continue
            unnamed_ok = element == "sourceProducts" or _UNNAMED_SOURCE_RE.fullmatch(element)
            if op.accepts_unnamed_sources() and unnamed_ok:
                continue
            self.unknown_source(node, op, element)
        if not op.sources and node.sources:
            return  # reported per element above
        for spec in op.sources:
            if not spec.multi and not spec.optional and spec.name not in named_given:
                self.add(
                    f"[NodeId: {node.id}] {op.alias}: Mandatory source product (field "
                    f"'{spec.name}') not set in {self.snap}; add "
                    f'<{spec.names()[0]} refid="..."/> to its <sources>'
                )
        if op.min_sources > 1 and count < op.min_sources:
            self.add(
                f"[NodeId: {node.id}] {op.alias} needs at least {op.min_sources} source "
                f"products, it has {count}; add the missing source(s)"
            )

    def unknown_source(self, node: Node, op: OperatorSpec, element: str) -> None:
        names = ["/".join(repr(n) for n in s.names()) for s in op.sources if not s.multi]
        if op.accepts_unnamed_sources():
            names.append("unnamed 'sourceProduct', 'sourceProduct.1', ... or 'sourceProducts'")
        if not names:
            self.add(
                f"[NodeId: {node.id}] {op.alias} takes no source products, but has <{element}>; "
                "remove its <sources> children"
            )
            return
        majors = cat.source_majors(op.alias, element)
        hint = ""
        if majors:
            hint = f" ('{element}' is a source of {op.alias} only in SNAP {cat.majors_text(majors)}"
            if op.alias == "Collocate":
                hint += "; SNAP 10 renamed master/slave to reference/secondary"
            hint += ")"
        if op.accepts_unnamed_sources():
            hint += "; GPF would pass it on as an unnamed source product"
        self.add(
            f"[NodeId: {node.id}] {op.alias}: source element <{element}> is not known in "
            f"{self.snap}{hint}; use {', '.join(names)}"
        )

    # ---- operator rules from initialize() ----------------------------------------------------
    def value(self, node: Node, op: OperatorSpec, name: str) -> str | None:
        spec = op.param(name)
        names = spec.names() if spec is not None else (name,)
        for key, value in node.parameters:
            if key in names and isinstance(value, str):
                return self.effective(value) or None
        return None

    def check_rules(self, node: Node, op: OperatorSpec) -> None:
        given = {spec.name for spec in op.params if self.has_value(node, spec)}
        if op.alias == "Resample":
            modes = [
                "referenceBand" in given,
                "targetResolution" in given,
                "targetWidth" in given or "targetHeight" in given,
            ]
            if sum(modes) != 1:
                self.add(
                    f"[NodeId: {node.id}] Resample needs exactly one of referenceBand, "
                    "targetResolution or targetWidth+targetHeight; set one (e.g. "
                    "<targetResolution>10</targetResolution>)"
                )
        elif op.alias == "Reproject":
            collocate = any(e in ("collocateWith", "collocationProduct") for e, _ in node.sources)
            modes = ["crs" in given, "wktFile" in given, collocate]
            if sum(modes) != 1:
                self.add(
                    f"[NodeId: {node.id}] Reproject needs exactly one of crs, wktFile or a "
                    "collocateWith source; set one (e.g. <crs>EPSG:4326</crs>)"
                )
        elif op.alias == "Terrain-Correction":
            if self.value(node, op, "demName") == "External DEM" and "externalDEMFile" not in given:
                self.add(
                    f"[NodeId: {node.id}] Terrain-Correction: demName 'External DEM' needs "
                    "externalDEMFile; set <externalDEMFile> to the DEM GeoTIFF"
                )
        elif op.alias == "Write" and "file" not in given:
            self.add(f"[NodeId: {node.id}] Write has no 'file'; set <file> to the output path")


def _type_problem(spec: ParamSpec, text: str) -> str | None:
    kind = spec.type
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            return f"value {text!r} is not a boolean; write true or false"
    elif kind == "int":
        if not _INT_RE.fullmatch(text.strip()) or not (_JAVA_INT[0] <= int(text) <= _JAVA_INT[1]):
            return f"value {text!r} is not an integer; write e.g. 7"
    elif kind == "float":
        if not _FLOAT_RE.fullmatch(text.strip()):
            return f"value {text!r} is not a number; write e.g. 10.0"
    elif kind == "rectangle":
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4 or not all(_INT_RE.fullmatch(p) for p in parts):
            return f"value {text!r} is not a pixel rectangle; write x,y,width,height"
    elif kind in ("geometry", "polygon"):
        return _wkt_problem(text, polygon=kind == "polygon")
    elif kind == "enum" and spec.allowed is None and not re.fullmatch(r"[A-Z_][A-Z0-9_]*", text):
        return f"value {text!r} is not an enum constant name"
    return None


def _wkt_problem(text: str, *, polygon: bool) -> str | None:
    import shapely.wkt
    from shapely.errors import ShapelyError

    try:
        geom = shapely.wkt.loads(text)
    except (ShapelyError, ValueError, TypeError):
        return f"value {text!r} is not WKT; write e.g. POLYGON((lon lat, ...))"
    if polygon and geom.geom_type != "Polygon":
        return f"value {text!r} is a {geom.geom_type}, not a POLYGON"
    return None


def _interval_problem(interval: str, text: str) -> str | None:
    match = re.fullmatch(r"\s*([\[(])\s*([^,]*?)\s*,\s*([^,]*?)\s*([\])])\s*", interval)
    if match is None:
        return None
    lo_br, lo, hi, hi_br = match.groups()
    number = float(text.rstrip("fFdD"))
    if math.isnan(number):
        return f"is outside {interval}"
    if lo not in ("*", "") and (number < float(lo) or (lo_br == "(" and number == float(lo))):
        return f"is outside {interval}; use a value in that interval"
    if hi not in ("*", "") and (number > float(hi) or (hi_br == ")" and number == float(hi))):
        return f"is outside {interval}; use a value in that interval"
    return None


# ---- comparing catalogues ----------------------------------------------------------------------
def diff_catalogues(a: Catalogue, b: Catalogue) -> list[str]:
    """Human-readable differences between catalogues ``a`` and ``b`` (empty: the same).

    Compares, per operator present in either: presence, parameters (presence, accepted names,
    type, default — numerically for numbers, case-insensitively for booleans —, value set,
    required) and source names. Meant for the built-in catalogue against one read from the
    installed SNAP, e.g. ``diff_catalogues(catalogue_for(v), load_installed_catalogue(v))``.
    """
    la, lb = f"{a.label()} [{a.origin}]", f"{b.label()} [{b.origin}]"
    out: list[str] = []
    for alias in sorted(set(a.aliases()) | set(b.aliases())):
        op_a, op_b = a.operator(alias), b.operator(alias)
        if op_a is None or op_b is None:
            have = la if op_a is not None else lb
            out.append(f"{alias}: operator only in {have}")
            continue
        out += _diff_operator(op_a, op_b, la, lb)
    return out


def _diff_operator(a: OperatorSpec, b: OperatorSpec, la: str, lb: str) -> list[str]:
    out: list[str] = []
    names_a = {p.name: p for p in a.params}
    names_b = {p.name: p for p in b.params}
    for name in sorted(set(names_a) | set(names_b)):
        pa, pb = names_a.get(name), names_b.get(name)
        if pa is None or pb is None:
            # the same parameter may be keyed by field name on one side and alias on the other
            other = b.param(name) if pa is not None else a.param(name)
            if other is not None and other.name in (names_a if pa is None else names_b):
                continue
            out.append(f"{a.alias}.{name}: parameter only in {la if pa is not None else lb}")
            continue
        out += _diff_param(a.alias, pa, pb, la, lb)
    # parameters keyed differently on both sides (alias vs field name)
    for pa in a.params:
        if pa.name not in names_b:
            pb = b.param(pa.name)
            if pb is not None:
                out += _diff_param(a.alias, pa, pb, la, lb)
    src_a = sorted(n for s in a.sources for n in s.names())
    src_b = sorted(n for s in b.sources for n in s.names())
    if src_a != src_b:
        out.append(f"{a.alias}: source names differ: {la} {src_a}, {lb} {src_b}")
    return out


def _diff_param(alias: str, a: ParamSpec, b: ParamSpec, la: str, lb: str) -> list[str]:
    out: list[str] = []
    key = f"{alias}.{a.name}"
    if set(a.names()) != set(b.names()):
        out.append(
            f"{key}: accepted names differ: {la} {sorted(a.names())}, {lb} {sorted(b.names())}"
        )
    if a.type != b.type:
        out.append(f"{key}: type differs: {la} {a.type}, {lb} {b.type}")
    if not _same_default(a, b):
        out.append(f"{key}: default differs: {la} {a.default!r}, {lb} {b.default!r}")
    if (a.allowed is None) != (b.allowed is None) or set(a.allowed or ()) != set(b.allowed or ()):
        only_a = sorted(set(a.allowed or ()) - set(b.allowed or ()))
        only_b = sorted(set(b.allowed or ()) - set(a.allowed or ()))
        out.append(f"{key}: allowed values differ: only in {la} {only_a}, only in {lb} {only_b}")
    if a.required != b.required:
        out.append(f"{key}: required differs: {la} {a.required}, {lb} {b.required}")
    return out


def _same_default(a: ParamSpec, b: ParamSpec) -> bool:
    da, db = a.default or None, b.default or None
    if da == db:
        return True
    if da is None or db is None:
        return False
    kind = a.type if a.type == b.type else ""
    if kind == "bool":
        return da.lower() == db.lower()
    if kind in ("int", "float"):
        try:
            return float(da.rstrip("fFdD")) == float(db.rstrip("fFdD"))
        except ValueError:
            return False
    return False
