"""The layers read top to bottom: no module of lab/ imports one from a layer above its own (lazy imports too).

The order is the README's architecture: the foundation and the task's facts, the learners, the rollout, the
files (policies, checkpoints, evaluation), the training engine, rendering, analysis, searches, benchmarks,
and the command line on top. widgets/ sits above all of lab/, and lab/ never imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    ("foundation", ("lab", "lab.config", "lab.presets", "lab.io", "lab.events", "lab.signals", "lab.seeds",
                    "lab.stats", "lab.lander")),
    ("agents", ("lab.agents",)),
    ("rollout", ("lab.rollout",)),
    ("files", ("lab.policy", "lab.checkpoint", "lab.evaluation")),
    ("train", ("lab.train",)),
    ("render", ("lab.render",)),
    ("analysis", ("lab.analysis",)),
    ("search", ("lab.search",)),
    ("bench", ("lab.bench",)),
    ("cli", ("lab.cli", "lab.commands", "lab.notebook", "lab.__main__")),
]


def layer_of(module: str) -> int:
    """The layer of a dotted module name: the longest prefix listed wins."""
    best, level = -1, -1
    for k, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), k
    assert level >= 0, f"{module} belongs to no layer: add it to tests/test_layers.py"
    return level


def imports(path: Path) -> set[str]:
    """Every lab.* or widgets.* module a file imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] in ("lab", "widgets")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    return (ROOT / Path(*name.split("."))).with_suffix(".py").exists() or (ROOT / Path(*name.split("."))).is_dir()


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in sorted((ROOT / "lab").rglob("*.py")):
        importer = _module_name(path)
        for imported in imports(path):
            if imported.startswith("widgets"):
                upward.append(f"{importer} imports {imported} (lab/ never imports widgets/)")
                continue
            if not _is_module(imported):  # `from lab.x import name`: name is not a module
                continue
            if layer_of(imported) > layer_of(importer):
                upward.append(f"{importer} ({LAYERS[layer_of(importer)][0]}) imports {imported} "
                              f"({LAYERS[layer_of(imported)][0]})")
    assert not upward, "\n".join(upward)


def test_every_module_has_a_layer():
    for path in (ROOT / "lab").rglob("*.py"):
        layer_of(_module_name(path))
