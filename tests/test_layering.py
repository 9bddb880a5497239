"""The packages' dependency rule: ``sen_preproc`` never imports torch or ``mccgan``; ``mccgan``
may import ``sen_preproc``; the networks need nothing but torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_roots(package: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_sen_preproc_sources_import_neither_torch_nor_mccgan() -> None:
    roots = _imported_roots(ROOT / "sen_preproc")
    for forbidden in ("torch", "mccgan", "lightning", "torchmetrics"):
        assert forbidden not in roots, (forbidden, roots.get(forbidden))


def test_networks_need_only_torch() -> None:
    roots = _imported_roots(ROOT / "mccgan" / "networks")
    assert (
        set(roots) - {"torch", "__future__", "math", "collections", "typing", "functools", "mccgan"}
        == set()
    )


def test_importing_every_sen_preproc_module_loads_no_torch() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "sen_preproc").rglob("*.py")
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('torch', 'mccgan', 'lightning') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
