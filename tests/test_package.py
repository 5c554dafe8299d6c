"""The package as Hydra sees it: discovery stays light, layout and typing are right."""

import doctest
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import hydra_plugins
from hydra_plugins.hydra_python_sweeper.utils import merge_overrides

PACKAGE = Path(__file__).resolve().parent.parent / "hydra_plugins" / "hydra_python_sweeper"
MODULES = sorted(
    f"hydra_plugins.hydra_python_sweeper.{p.stem}"
    for p in PACKAGE.glob("*.py")
    if p.stem != "__init__"
)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    failed, attempted = doctest.testmod(importlib.import_module(module))
    assert failed == 0
    if not module.endswith(("config", "python_sweeper", "_impl", "_sources", "__main__")):
        assert attempted > 0, f"{module} should show an example"


def test_hydra_plugins_is_a_namespace_package() -> None:
    assert not (PACKAGE.parent / "__init__.py").exists()
    assert getattr(hydra_plugins, "__file__", None) is None
    assert (PACKAGE / "py.typed").is_file()


def test_discovered_modules_import_nothing_heavy() -> None:
    """Hydra imports every non-underscore module at every start: they must stay light."""
    code = (
        "import sys\n"
        "from hydra.core.plugins import Plugins\n"
        "from hydra.plugins.sweeper import Sweeper\n"
        "before = set(sys.modules)\n"
        "Plugins.instance().discover(Sweeper)\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    ours = [m for m in loaded if m.startswith("hydra_plugins.hydra_python_sweeper")]
    assert "hydra_plugins.hydra_python_sweeper.python_sweeper" in ours
    # the only private modules they import are _markers (raw, DELETE), which imports
    # nothing, and __main__ (Hydra skips "_x" modules, not "__x"), which does nothing unless run
    private = [m.rsplit(".", 1)[1] for m in ours if m.rsplit(".", 1)[1].startswith("_")]
    assert set(private) <= {"_markers", "__main__"}
    assert {"xxhash", "more_itertools"}.isdisjoint(loaded)


def test_markers_import_nothing() -> None:
    source = (PACKAGE / "_markers.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from typing import Any"]


# --- merge_overrides ---------------------------------------------------------------------


def test_merge_overrides_is_the_product_with_the_first_source_winning() -> None:
    base = [{"lr": 0.1, "depth": 2}, {"lr": 0.2}]
    grid = [[("depth", 4), ("+width", 8)], [("+width", 16)]]
    assert [dict(job) for job in merge_overrides(base, grid)] == [
        {"lr": 0.1, "depth": 2, "+width": 8},
        {"lr": 0.1, "depth": 2, "+width": 16},
        {"lr": 0.2, "depth": 4, "+width": 8},
        {"lr": 0.2, "+width": 16},
    ]


def test_merge_overrides_is_lazy_and_calls_inner_functions_per_combination() -> None:
    drawn: Dict[str, int] = {"outer": 0}
    calls = []

    def outer() -> Iterator[Dict[str, Any]]:
        for i in range(10**9):
            drawn["outer"] += 1
            yield {"i": i}

    def inner() -> Iterator[Dict[str, Any]]:
        calls.append(1)
        return iter([{"j": 0}, {"j": 1}])

    jobs = merge_overrides(outer(), inner)
    assert [dict(next(jobs)) for _ in range(3)] == [
        {"i": 0, "j": 0},
        {"i": 0, "j": 1},
        {"i": 1, "j": 0},
    ]
    assert drawn["outer"] == 2 and len(calls) == 2


def test_merge_overrides_refuses_an_inner_one_shot_iterator() -> None:
    with pytest.raises(TypeError, match="only the first source is iterated once"):
        merge_overrides([{"a": 1}], iter([{"b": 2}]))


def module_imports() -> Dict[str, set]:
    """Each module of the package, and the modules of the package it imports when it is
    imported (module-level ``from .x import`` statements; not those inside functions)."""
    import ast

    graph: Dict[str, set] = {}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        graph[path.stem] = {
            (node.module or "__init__").split(".")[0]
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 1
        }
    return graph


def test_the_package_imports_form_no_circle() -> None:
    graph = module_imports()
    assert "_format" in graph["_stages"] and "_stages" not in graph["_format"]
    done: set = set()
    while len(done) < len(graph):  # peel modules whose imports are all peeled
        ready = {m for m, imports in graph.items() if m not in done and imports <= done}
        assert ready, f"an import circle among {sorted(set(graph) - done)}"
        done |= ready


def test_every_room_stays_small() -> None:
    """No module over about 400 lines, no class over about 200: a room that grows past
    them is split before more is added to it."""
    import ast

    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert source.count("\n") <= 420, f"{path.name} has {source.count(chr(10))} lines"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno
                assert size <= 220, f"{path.name}: class {node.name} has {size} lines"
