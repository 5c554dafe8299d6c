"""The sweeps of tests/test_same_as_hydra.py: for each application, a command-line sweep as a
person types it for BasicSweeper, and the same jobs as an entrypoint yields them in Python."""

import importlib.util
import itertools
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

#: The compared applications (config groups, ``db@backup``, structured configs, experiments).
APP = Path(__file__).parent / "apps" / "compare" / "app.py"


def load_app() -> Any:
    spec = importlib.util.spec_from_file_location("compare_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_app"] = module  # typing.get_type_hints looks its schemas up there (3.9)
    spec.loader.exec_module(module)
    return module


#: case -> (config name, BasicSweeper's command line, the Python jobs' choices in its order)
CASES: Dict[str, Any] = {
    "groups": (
        "groups",
        [
            "db=mysql,postgresql",
            "db@backup=postgresql,mysql",
            "db.port=1000,2000",
            "~db.charset=utf8",
            "host=127.0.0.1",
            "+tags=[a, b]",
            "+note='my run'",  # as users quote a value with spaces
            '+said="it\'s"',
            "+when=2023-01-01",
            "+ratio=0.5",
        ],
        {
            "db": ["mysql", "postgresql"],
            "db@backup": ["postgresql", "mysql"],
            "db.port": [1000, 2000],
            "~db.charset": ["utf8"],
            "host": ["127.0.0.1"],
            "+tags": [["a", "b"]],
            "+note": ["my run"],
            "+said": ["it's"],
            "+when": ["2023-01-01"],
            "+ratio": [0.5],
        },
    ),
    "structured": (
        "structured",
        [
            "optim=adam,sgd",
            "optim.lr=0.1,0.01",
            "seed=1,2",
            "debug=true",
            "tag=null,v1.0",
            "layers=[64, 128]",
        ],
        {
            "optim": ["adam", "sgd"],
            "optim.lr": [0.1, 0.01],
            "seed": [1, 2],
            "debug": [True],
            "tag": [None, "v1.0"],
            "layers": [[64, 128]],
        },
    ),
    "experiments": (
        "experiments",
        ["+experiment=fast,long", "lr=0.1,0.2", "+data.path=/data/a,/data/b", "+data.host='a:b'"],
        {
            "+experiment": ["fast", "long"],
            "lr": [0.1, 0.2],
            "+data.path": ["/data/a", "/data/b"],
            "+data.host": ["a:b"],
        },
    ),
}


def jobs(case: str) -> Iterator[Dict[str, Any]]:
    """The case's jobs, in the order of BasicSweeper's product of its command line."""
    choices: Dict[str, List[Any]] = CASES[case][2]
    for values in itertools.product(*choices.values()):
        yield dict(zip(choices, values))
