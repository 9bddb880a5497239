"""The GPT graph model: parse, edit, substitute and write SNAP graph XML.

A graph is a tuple of :class:`Node` (operator, named sources, parameters) in file order. Parameter
values are strings that may contain ``${name}`` placeholders; :meth:`Graph.to_xml` either keeps
them (a *template*, to be run with ``gpt graph.xml -Pname=value``) or substitutes them (a
*concrete* graph). XML is always written by :mod:`xml.etree.ElementTree`, never by pasting values
into text.

Escaping, and why ``$`` is escaped too: gpt's ``TemplateReader`` replaces ``${name}`` **and** bare
``$name`` in the raw XML text before parsing, with the raw ``-P`` value (no XML escaping). So every
value that reaches gpt — written into the XML by us, or passed as ``-Pname=value`` — goes through
:func:`escape_value` rules: ``& < > " '`` as entities and ``$`` as ``&#36;``. The XML parser turns
``&#36;`` back into ``$`` *after* the substitution pass, so a path such as ``/data/$input/x`` or a
value ``${input}`` can never be substituted a second time.

Only ``${name}`` is a placeholder in this model (a bare ``$`` is a literal character), and the
placeholders that SNAP operators expand themselves (Collocate's ``${ORIGINAL_NAME}`` and
``${SLAVE_NUMBER_ID}``) are literals too.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeAlias

from sen_preproc.errors import GraphError

#: Placeholders that SNAP operators expand themselves; never template variables here.
SNAP_RESERVED_VARIABLES = frozenset({"ORIGINAL_NAME", "SLAVE_NUMBER_ID"})

#: ``${name}``: Java identifier characters and dots, as gpt's TemplateReader reads them.
PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")

#: The ``class`` attribute SNAP writes on ``<parameters>`` (optional for gpt).
PARAMETERS_CLASS = "com.bc.ceres.binding.dom.XppDomElement"

GRAPH_FORMAT_VERSION = "1.0"

# Characters XML 1.0 cannot carry at all (not even as character references); lone surrogates
# are what Python makes of file-name bytes that are not UTF-8.
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&apos;",
    "$": "&#36;",
    "\r": "&#13;",  # a raw CR would reach the parser, which turns it into LF
}
_ESCAPE_RE = re.compile("[&<>\"'$\r]")


@dataclass(frozen=True)
class XmlElement:
    """One child element of a structured parameter (e.g. BandMaths ``<targetBand>``)."""

    tag: str
    text: str | None = None
    children: tuple[XmlElement, ...] = ()

    def __post_init__(self) -> None:
        if self.text == "":
            object.__setattr__(self, "text", None)


#: A parameter value: text (may hold ``${name}``), ``None`` for an empty element (= SNAP's
#: default), or child elements for structured parameters.
ParamValue: TypeAlias = str | tuple[XmlElement, ...] | None


def escape_value(text: str) -> str:
    """XML-escape ``text`` for gpt: ``& < > " '`` as entities, ``$`` as ``&#36;`` and ``\\r`` as
    ``&#13;``.

    Use it for every value handed to gpt as ``-Pname=value`` (gpt pastes those raw into the XML
    text before parsing). The result parses back to exactly ``text``.

    Raises
    ------
    GraphError
        When ``text`` holds a control character that XML 1.0 cannot represent.
    """
    _check_xml_chars(text, "value")
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text)


def xml_comment(text: str) -> str:
    """``<!-- text -->``: a comment that parses and that gpt cannot alter.

    gpt's ``TemplateReader`` substitutes ``${name}``/``$name`` in the raw text, comments
    included, so ``$`` is written as ``&#36;`` (which a comment shows literally); ``--``, which
    a comment cannot hold, is written ``- -``; ``\\r`` becomes a space.

    Raises
    ------
    GraphError
        When ``text`` holds a control character that XML 1.0 cannot represent.
    """
    _check_xml_chars(text, "comment")
    body = text.replace("$", "&#36;").replace("\r", " ")
    while "--" in body:
        body = body.replace("--", "- -")
    return f"<!-- {body} -->"


def check_xml_text(text: str, what: str) -> None:
    """Raise :class:`GraphError` when ``text`` (described as ``what`` in the message) holds a
    character XML 1.0 cannot carry (control characters, lone surrogates from undecodable file
    names)."""
    _check_xml_chars(text, what)


def _check_xml_chars(text: str, what: str) -> None:
    bad = _XML_INVALID_RE.search(text)
    if bad is not None:
        raise GraphError(
            f"{what} {text!r} contains the character {bad.group(0)!r}, which XML cannot carry; "
            "remove it"
        )


def placeholders(text: str) -> set[str]:
    """The template variables (``${name}``) used in ``text``, without SNAP's reserved ones."""
    return {m for m in PLACEHOLDER_RE.findall(text) if m not in SNAP_RESERVED_VARIABLES}


def substitute(text: str, variables: Mapping[str, str], missing: set[str] | None = None) -> str:
    """Replace each ``${name}`` in ``text`` by ``variables[name]`` (one pass, no recursion).

    Undefined names are left in place and added to ``missing`` when given.
    """

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in SNAP_RESERVED_VARIABLES:
            return match.group(0)
        if name in variables:
            return variables[name]
        if missing is not None:
            missing.add(name)
        return match.group(0)

    return PLACEHOLDER_RE.sub(repl, text)


@dataclass(frozen=True)
class Node:
    """One ``<node>``: id, operator alias, named sources and parameters (in file order).

    ``sources`` pairs the source element name with the referenced node id, e.g.
    ``(("sourceProduct", "Read"),)``; the CSV form ``<sourceProducts>A,B</sourceProducts>`` is
    kept as one pair ``("sourceProducts", "A,B")``.
    """

    id: str
    operator: str
    sources: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, ParamValue], ...] = ()

    def __post_init__(self) -> None:
        params = tuple((name, None if value == "" else value) for name, value in self.parameters)
        object.__setattr__(self, "parameters", params)
        object.__setattr__(self, "sources", tuple(self.sources))

    def param(self, name: str, default: ParamValue = None) -> ParamValue:
        """Value of parameter ``name`` (first occurrence), or ``default``."""
        for key, value in self.parameters:
            if key == name:
                return value
        return default

    def has_param(self, name: str) -> bool:
        return any(key == name for key, _ in self.parameters)

    def with_param(self, name: str, value: ParamValue) -> Node:
        """A copy with parameter ``name`` set to ``value`` (replaced in place, else appended)."""
        if self.has_param(name):
            params = tuple((k, value if k == name else v) for k, v in self.parameters)
        else:
            params = (*self.parameters, (name, value))
        return replace(self, parameters=params)

    def without_params(self, *names: str) -> Node:
        """A copy without the parameters ``names`` (absent ones are ignored)."""
        return replace(self, parameters=tuple(p for p in self.parameters if p[0] not in names))

    def renamed_params(self, renames: Mapping[str, str]) -> Node:
        """A copy whose parameter elements are renamed per ``renames`` (old -> new)."""
        return replace(self, parameters=tuple((renames.get(k, k), v) for k, v in self.parameters))

    def source_ids(self) -> list[str]:
        """The referenced node ids, the CSV form split."""
        ids: list[str] = []
        for name, ref in self.sources:
            if name == "sourceProducts":
                ids.extend(part.strip() for part in ref.split(",") if part.strip())
            else:
                ids.append(ref)
        return ids


@dataclass(frozen=True)
class Graph:
    """A GPT graph: nodes in file order, the graph id and the format ``<version>``.

    ``version`` is what the file says (``None`` when it has no ``<version>``); gpt only accepts
    ``"1.0"`` (checked by :func:`sen_preproc.snap.validate.validate_graph`).
    """

    nodes: tuple[Node, ...]
    graph_id: str = "Graph"
    version: str | None = field(default=GRAPH_FORMAT_VERSION)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))

    # ---- reading ---------------------------------------------------------------------------
    @classmethod
    def from_xml(cls, text: str | bytes) -> Graph:
        """Parse graph XML (``<applicationData>`` and ``<header>`` are ignored, as gpt does).

        Raises
        ------
        GraphError
            When the text is not XML, the root is not ``<graph>``, or a node has no id/operator.
        """
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise GraphError(f"graph XML does not parse: {exc}; fix the XML syntax") from exc
        if root.tag != "graph":
            raise GraphError(f"root element is <{root.tag}>, not <graph>; this is no GPT graph")
        version_el = root.find("version")
        version = None if version_el is None else (version_el.text or "").strip()
        nodes = [_parse_node(el, i) for i, el in enumerate(root.findall("node"))]
        return cls(tuple(nodes), root.get("id", "Graph"), version)

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id``.

        Raises
        ------
        GraphError
            When there is none (the message lists the node ids).
        """
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise GraphError(f"no node {node_id!r} in graph {self.graph_id!r}; nodes: {self.ids()}")

    def ids(self) -> list[str]:
        return [node.id for node in self.nodes]

    def operators(self) -> list[str]:
        """Operator aliases in chain (topological, file-order-stable) order."""
        return [node.operator for node in self.chain()]

    def consumers(self, node_id: str) -> list[Node]:
        """Nodes that use ``node_id`` as a source."""
        return [n for n in self.nodes if node_id in n.source_ids()]

    def chain(self) -> list[Node]:
        """Nodes in topological order (sources before consumers; ties keep file order).

        Raises
        ------
        GraphError
            When the graph has a cycle.
        """
        ids = {n.id for n in self.nodes}
        done: set[str] = set()
        order: list[Node] = []
        pending = list(self.nodes)
        while pending:
            ready = [n for n in pending if all(s in done or s not in ids for s in n.source_ids())]
            if not ready:
                raise GraphError(
                    f"graph {self.graph_id!r} has a cycle through {[n.id for n in pending]}; "
                    "gpt needs an acyclic graph"
                )
            first = ready[0]
            order.append(first)
            done.add(first.id)
            pending.remove(first)
        return order

    def variables(self) -> set[str]:
        """Template variables (``${name}``) used in parameter values and source references."""
        found: set[str] = set()
        for text in self._texts():
            found |= placeholders(text)
        return found

    def _texts(self) -> Iterator[str]:
        for node in self.nodes:
            for _, ref in node.sources:
                yield ref
            for _, value in node.parameters:
                yield from _value_texts(value)

    # ---- editing ---------------------------------------------------------------------------
    def with_node(self, node: Node) -> Graph:
        """A copy with the node of the same id replaced by ``node``."""
        self.node(node.id)
        return replace(self, nodes=tuple(node if n.id == node.id else n for n in self.nodes))

    def without(self, node_id: str) -> Graph:
        """A copy without node ``node_id``; its consumers are re-wired to its (single) source.

        Raises
        ------
        GraphError
            When the node does not exist or has not exactly one source.
        """
        target = self.node(node_id)
        sources = target.source_ids()
        if len(sources) != 1:
            raise GraphError(
                f"cannot remove node {node_id!r} ({target.operator}): it has {len(sources)} "
                "sources, so its consumers cannot be re-wired; remove a node with one source"
            )
        (upstream,) = sources
        nodes = []
        for node in self.nodes:
            if node.id == node_id:
                continue
            if node_id in node.source_ids():
                node = replace(node, sources=_rewire(node.sources, node_id, upstream))
            nodes.append(node)
        return replace(self, nodes=tuple(nodes))

    # ---- writing ---------------------------------------------------------------------------
    def to_xml(self, variables: Mapping[str, str] | None = None) -> str:
        """The graph as GPT XML text.

        Parameters
        ----------
        variables
            ``None``: keep the ``${name}`` placeholders (a template for ``gpt -Pname=value``).
            A mapping: substitute every ``${name}`` with its (escaped) value.

        Raises
        ------
        GraphError
            When ``variables`` lacks a variable the graph uses (all missing ones are named), or
            a value holds a character XML cannot carry.
        """
        missing: set[str] = set()

        def text(value: str) -> str:
            out = value if variables is None else substitute(value, variables, missing)
            _check_xml_chars(out, "value")
            return out

        root = ET.Element("graph", {"id": self.graph_id})
        if self.version is not None:
            ET.SubElement(root, "version").text = self.version
        for node in self.nodes:
            node_el = ET.SubElement(root, "node", {"id": node.id})
            ET.SubElement(node_el, "operator").text = node.operator
            sources_el = ET.SubElement(node_el, "sources")
            for name, ref in node.sources:
                if name == "sourceProducts":
                    ET.SubElement(sources_el, name).text = text(ref)
                else:
                    ET.SubElement(sources_el, name, {"refid": text(ref)})
            params_el = ET.SubElement(node_el, "parameters", {"class": PARAMETERS_CLASS})
            for name, value in node.parameters:
                _write_value(ET.SubElement(params_el, name), value, text)
        if missing:
            raise GraphError(
                f"graph {self.graph_id!r} uses undefined variable(s) {sorted(missing)}; "
                "give a value for each"
            )
        ET.indent(root, space="  ")
        raw = ET.tostring(root, encoding="unicode")
        return _escape_dollars(raw, keep_placeholders=variables is None) + "\n"


def _parse_node(el: ET.Element, index: int) -> Node:
    node_id = el.get("id")
    if not node_id:
        raise GraphError(f"node #{index + 1} has no id attribute; give each <node> a unique id")
    op_el = el.find("operator")
    operator = (op_el.text or "").strip() if op_el is not None else ""
    if not operator:
        raise GraphError(f"[NodeId: {node_id}] has no <operator>; name the GPT operator alias")
    sources: list[tuple[str, str]] = []
    sources_el = el.find("sources")
    if sources_el is not None:
        for src in sources_el:
            ref = src.get("refid")
            if ref is None:
                ref = (src.text or "").strip()
            sources.append((src.tag, ref))
    params: list[tuple[str, ParamValue]] = []
    params_el = el.find("parameters")
    if params_el is not None:
        for par in params_el:
            if par.get("refid") is not None:
                raise GraphError(
                    f"[NodeId: {node_id}] parameter <{par.tag} refid=...> (a value taken from "
                    "another node) is not supported here; write the value itself"
                )
            params.append((par.tag, _read_value(par)))
    return Node(node_id, operator, tuple(sources), tuple(params))


def _read_value(el: ET.Element) -> ParamValue:
    if len(el):
        return tuple(_read_child(child) for child in el)
    return el.text if el.text else None


def _read_child(el: ET.Element) -> XmlElement:
    children = tuple(_read_child(child) for child in el)
    text = None if children else el.text
    return XmlElement(el.tag, text, children)


def _write_value(el: ET.Element, value: ParamValue, text: Callable[[str], str]) -> None:
    if value is None:
        return
    if isinstance(value, str):
        el.text = text(value)
        return
    for child in value:
        _write_child(ET.SubElement(el, child.tag), child, text)


def _write_child(el: ET.Element, child: XmlElement, text: Callable[[str], str]) -> None:
    if child.children:
        for sub in child.children:
            _write_child(ET.SubElement(el, sub.tag), sub, text)
    elif child.text is not None:
        el.text = text(child.text)


def _value_texts(value: ParamValue) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for child in value:
            yield from _child_texts(child)


def _child_texts(child: XmlElement) -> Iterator[str]:
    if child.text is not None:
        yield child.text
    for sub in child.children:
        yield from _child_texts(sub)


def _rewire(
    sources: tuple[tuple[str, str], ...], old: str, new: str
) -> tuple[tuple[str, str], ...]:
    out = []
    for name, ref in sources:
        if name == "sourceProducts":
            parts = [new if p.strip() == old else p.strip() for p in ref.split(",")]
            out.append((name, ",".join(parts)))
        else:
            out.append((name, new if ref == old else ref))
    return tuple(out)


def _escape_dollars(xml_text: str, *, keep_placeholders: bool) -> str:
    """Escape every ``$`` (and ``\\r``) of serialised XML; keep ``${var}`` in templates.

    ``$`` can only occur in text and attribute values (XML names cannot hold it), so replacing it
    by the character reference ``&#36;`` changes no markup.
    """

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if keep_placeholders and name is not None and name not in SNAP_RESERVED_VARIABLES:
            return match.group(0)
        return "&#36;" + match.group(0)[1:]

    out = re.sub(r"\$(?:\{([A-Za-z_][A-Za-z0-9_.]*)\})?", repl, xml_text)
    return out.replace("\r", "&#13;")


# ---- splitting -----------------------------------------------------------------------------
def linear_chain(graph: Graph) -> list[Node]:
    """The nodes of a linear chain (one Read, each node one source and one consumer).

    Raises
    ------
    GraphError
        When the graph branches or merges.
    """
    chain = graph.chain()
    for node in chain:
        n_src, n_out = len(node.source_ids()), len(graph.consumers(node.id))
        if n_src > 1 or n_out > 1:
            raise GraphError(
                f"graph {graph.graph_id!r} is not a linear chain: node {node.id!r} has {n_src} "
                f"sources and {n_out} consumers; split only linear graphs (Read -> ... -> Write)"
            )
    starts = [n for n in chain if not n.source_ids()]
    if len(starts) != 1:
        raise GraphError(
            f"graph {graph.graph_id!r} is not a linear chain: it starts at {[n.id for n in starts]}"
        )
    return chain


def split_graph(graph: Graph, workdir: Path, cut_after: Sequence[str] | None = None) -> list[Graph]:
    """Cut a linear chain into several graphs joined by BEAM-DIMAP intermediates.

    The ``--split-graph`` mode: each part runs as its own gpt call, which bounds gpt's memory
    (tile cache and operator state of one part at a time) and localises failures. Part *N* (but
    the last) ends in a Write node ``Write-partN`` (``formatName`` ``BEAM-DIMAP``, file
    ``workdir/partN.dim``); part *N+1* starts with a Read node ``Read-partN`` of that file.
    BEAM-DIMAP keeps the product metadata that later S1 operators read.

    Parameters
    ----------
    graph
        A linear chain (placeholders allowed; render the parts with the same variables).
    workdir
        Folder for the intermediates (absolute paths recommended; written as given).
    cut_after
        Node ids after which to cut, in any order; not the last node. ``None``:
        :func:`default_cut_points`. No cut points: ``[graph]`` unchanged.

    Raises
    ------
    GraphError
        When the graph is not linear, a cut id is unknown or the last node, or ``workdir``
        contains ``${`` (it would read as a template variable).
    """
    if cut_after is None:
        cut_after = default_cut_points(graph)
    if not cut_after:
        return [graph]
    if "${" in str(workdir):
        raise GraphError(f"work folder {str(workdir)!r} contains '${{'; choose another folder")
    chain = linear_chain(graph)
    position = {node.id: i for i, node in enumerate(chain)}
    for node_id in cut_after:
        if node_id not in position:
            raise GraphError(
                f"cannot cut after {node_id!r}: no such node; nodes: {[n.id for n in chain]}"
            )
        if position[node_id] == len(chain) - 1:
            raise GraphError(f"cannot cut after the last node {node_id!r}; cut before it")
    cuts = sorted({position[node_id] for node_id in cut_after})
    bounds = [0, *(c + 1 for c in cuts), len(chain)]
    parts: list[Graph] = []
    for k in range(len(bounds) - 1):
        members = list(chain[bounds[k] : bounds[k + 1]])
        number = k + 1
        if k > 0:
            prev_file = str(Path(workdir) / f"part{k}.dim")
            read = Node(
                f"Read-part{k}",
                "Read",
                (),
                (("file", prev_file), ("formatName", "BEAM-DIMAP")),
            )
            old_src = chain[bounds[k] - 1].id
            first = members[0]
            members[0] = replace(first, sources=_rewire(first.sources, old_src, read.id))
            members.insert(0, read)
        if k < len(bounds) - 2:
            last = members[-1]
            write = Node(
                f"Write-part{number}",
                "Write",
                (("sourceProduct", last.id),),
                (
                    ("file", str(Path(workdir) / f"part{number}.dim")),
                    ("formatName", "BEAM-DIMAP"),
                ),
            )
            members.append(write)
        parts.append(Graph(tuple(members), f"{graph.graph_id}-part{number}", graph.version))
    return parts


def intermediate_paths(parts: Sequence[Graph]) -> list[Path]:
    """The intermediates written by :func:`split_graph` parts: each ``.dim`` and its ``.data``.

    Delete them after the last part ran (or failed).
    """
    paths: list[Path] = []
    for part in parts[:-1]:
        for node in part.nodes:
            if node.operator == "Write" and node.id.startswith("Write-part"):
                value = node.param("file")
                if isinstance(value, str):
                    dim = Path(value)
                    paths += [dim, dim.with_suffix(".data")]
    return paths


#: Nodes before which a split is never made: they must stay with their predecessor.
#: ThermalNoiseRemoval reads the original annotation of its source (pyroSAR keeps it in the
#: same gpt call as its predecessor); kept together here too.
_KEEP_WITH_PREDECESSOR = frozenset({"ThermalNoiseRemoval"})


def default_cut_points(graph: Graph) -> list[str]:
    """Where :func:`split_graph` cuts by default.

    S1 (a Terrain-Correction node): after Calibration and right before Terrain-Correction, so the
    radiometric steps, the speckle filter and the DEM-heavy geocoding each run alone (the split
    that OST's per-step graphs and pyroSAR's worker groups make). S2: after the resampling (and
    after Sen2Cor), where the multi-size product becomes single-size. Graphs that are not linear
    chains (Collocate) are not split: ``[]``.
    """
    try:
        chain = linear_chain(graph)
    except GraphError:
        return []
    ops = [n.operator for n in chain]
    cuts: list[int] = []
    if "Terrain-Correction" in ops:
        tc = ops.index("Terrain-Correction")
        if "Calibration" in ops and ops.index("Calibration") < tc:
            cuts.append(ops.index("Calibration"))
        if tc > 0:
            cuts.append(tc - 1)
    else:
        for i, op in enumerate(ops):
            if op.startswith("Sen2Cor") or op in ("Resample", "S2Resampling"):
                cuts.append(i)
    result = []
    for i in sorted(set(cuts)):
        nxt = chain[i + 1] if i + 1 < len(chain) else None
        if nxt is None or nxt.operator == "Write" or nxt.operator in _KEEP_WITH_PREDECESSOR:
            continue
        if chain[i].operator == "Read":
            continue
        result.append(chain[i].id)
    return result
