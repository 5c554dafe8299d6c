"""The package as Hydra sees it: discovery stays light, layout and typing are right, and
the engine's subpackages import in one direction."""

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Set

import pytest

import hydra_plugins
from hydra_plugins.hydra_python_sweeper.utils import merge_overrides

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "hydra_plugins" / "hydra_python_sweeper"
ENGINE = ROOT / "hydra_python_sweeper"


def _name(path: Path, root: Path, package: str) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join((package, *parts)).removesuffix(".__init__")


PLUGIN_MODULES = sorted(
    _name(p, PLUGIN, "hydra_plugins.hydra_python_sweeper") for p in PLUGIN.glob("*.py")
)
ENGINE_MODULES = sorted(_name(p, ENGINE, "hydra_python_sweeper") for p in ENGINE.rglob("*.py"))
#: The engine's subpackages, lowest first: each may import only those before it (and itself).
LAYERS = [
    {"errors", "messages", "version"},
    {"space"},
    {"journal"},
    {"cluster"},
    {"run", "commands"},
    {"optuna"},  # hydra/sweeper=python_optuna: the sweeper, its jobs an Optuna search's trials
    {"__main__"},  # python -m hydra_python_sweeper: the commands
]


@pytest.mark.parametrize("module", PLUGIN_MODULES + ENGINE_MODULES)
def test_docstring_examples(module: str) -> None:
    failed, attempted = doctest.testmod(importlib.import_module(module))
    assert failed == 0
    bare = ("config", "python_sweeper", "sweeper", "sources", "__main__", "version", "report")
    if (not module.endswith(bare) and module.count(".") > 1) or module.endswith("utils"):
        assert attempted > 0, f"{module} should show an example"


def test_hydra_plugins_is_a_namespace_package() -> None:
    assert not (PLUGIN.parent / "__init__.py").exists()
    assert getattr(hydra_plugins, "__file__", None) is None
    assert (PLUGIN / "py.typed").is_file() and (ENGINE / "py.typed").is_file()


def test_the_plugin_folder_is_thin() -> None:
    """The sweeper class, its config, ``utils`` and ``__main__``: the rest is the engine's."""
    assert {p.name for p in PLUGIN.glob("*.py")} == {
        "__init__.py", "__main__.py", "config.py", "python_sweeper.py", "utils.py"
    }  # fmt: skip
    assert not [p for p in PLUGIN.iterdir() if p.is_dir() and p.name != "__pycache__"]


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
    plugin = [m for m in loaded if m.startswith("hydra_plugins.hydra_python_sweeper")]
    assert "hydra_plugins.hydra_python_sweeper.python_sweeper" in plugin
    # of the engine, only its root (the helpers, lazily), the markers and the version
    engine = {m for m in loaded if m.startswith("hydra_python_sweeper")}
    assert engine == {
        "hydra_python_sweeper",
        "hydra_python_sweeper.space",
        "hydra_python_sweeper.space.markers",
        "hydra_python_sweeper.version",
    }
    assert {"xxhash", "more_itertools"}.isdisjoint(loaded)


def test_markers_import_nothing() -> None:
    source = (ENGINE / "space" / "markers.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from typing import Any"]


def test_the_entrypoint_helpers_are_the_engine_s() -> None:
    import hydra_python_sweeper
    from hydra_plugins.hydra_python_sweeper import utils

    for name in utils.__all__:
        assert getattr(utils, name) is getattr(hydra_python_sweeper, name)


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


def module_imports() -> Dict[str, Set[str]]:
    """Each module of the engine, and the engine's modules it imports: every import
    statement, at module level, in a function or under ``TYPE_CHECKING``."""
    graph: Dict[str, Set[str]] = {}
    for module in ENGINE_MODULES:
        path = ENGINE.joinpath(*module.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        imported: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{module}: a relative import"
                names = [node.module or ""]
                names += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            imported |= {n for n in names if n in ENGINE_MODULES and n != module}
        graph[module] = imported
    return graph


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next((i for i, layer in enumerate(LAYERS) if top in layer), -1)


def test_the_engine_imports_in_one_direction() -> None:
    """commands and run above cluster, above journal, above space: nothing imports upward,
    and commands and run never import each other."""
    graph = module_imports()
    assert "hydra_python_sweeper.journal.lines" in graph["hydra_python_sweeper.journal.writer"]
    wrong = []
    for module, imports in graph.items():
        for target in imports:
            if target == "hydra_python_sweeper" or module == "hydra_python_sweeper":
                continue  # the root re-exports the helpers; no module imports the root
            same = module.split(".")[1] == target.split(".")[1]
            if not same and _layer(target) >= _layer(module):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the direction:\n" + "\n".join(sorted(wrong))
    assert not [m for m, i in graph.items() if "hydra_python_sweeper" in i], "the root imported"


def test_the_engine_imports_form_no_circle() -> None:
    graph = {m: {i for i in imports if i != "hydra_python_sweeper"} for m, imports in
             module_imports().items() if m != "hydra_python_sweeper"}  # fmt: skip
    done: Set[str] = set()
    while len(done) < len(graph):  # peel modules whose imports are all peeled
        ready = {m for m, imports in graph.items() if m not in done and imports <= done}
        assert ready, f"an import circle among {sorted(set(graph) - done)}"
        done |= ready


def test_every_room_stays_small() -> None:
    """No module over about 400 lines, no class over about 200: a room that grows past
    them is split before more is added to it."""
    for path in [*PLUGIN.glob("*.py"), *ENGINE.rglob("*.py")]:
        source = path.read_text()
        assert source.count("\n") <= 420, f"{path.name} has {source.count(chr(10))} lines"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno
                assert size <= 220, f"{path.name}: class {node.name} has {size} lines"
