"""The settings, checked once into one immutable value (``_settings.Settings``)."""

import dataclasses
from pathlib import Path
from typing import Any, Dict

import pytest
from omegaconf import OmegaConf

from hydra_plugins.hydra_python_sweeper.config import PythonSweeperConf
from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.run.settings import Settings


class BasicLauncher:  # named as Hydra's: it runs jobs in this process
    pass


def test_the_config_s_defaults_are_the_settings_defaults() -> None:
    given = {
        f.name: getattr(PythonSweeperConf(), f.name) for f in dataclasses.fields(PythonSweeperConf)
    }
    checked = Settings.of(given)
    assert checked == Settings(given=given)
    assert (checked.batch_size, checked.validation, checked.resume) == (None, "shape", None)


def test_settings_are_immutable() -> None:
    settings = Settings.of({"max_batch_size": 4})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.batch_size = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "given, checked",
    [
        ({"max_batch_size": -1}, {"batch_size": None}),
        ({"max_batch_size": 7}, {"batch_size": 7}),
        ({"validate": False}, {"validation": None}),
        ({"validate": "FULL"}, {"validation": "full"}),
        ({"resume": "force"}, {"resume": "force"}),
        ({"max_batch_size": 2, "num_shards": 3, "shard_index": 2}, {"num_shards": 3}),
        ({"params": {"lr": "0.1,0.2"}}, {"params": (("lr", "0.1,0.2"),)}),
        ({"entrypoints": ["a.b", "c.d"]}, {"entrypoints": ["a.b", "c.d"]}),
    ],
)
def test_settings_read_as_checked(given: Dict[str, Any], checked: Dict[str, Any]) -> None:
    settings = Settings.of(given)
    assert {key: getattr(settings, key) for key in checked} == checked


@pytest.mark.parametrize(
    "given, message",
    [
        ({"max_batch_size": 0}, "max_batch_size=0: expected a positive integer"),
        ({"max_batch_size": True}, "max_batch_size=True"),
        ({"num_shards": 0}, "num_shards=0: expected a positive integer"),
        ({"num_shards": 2, "shard_index": 2, "max_batch_size": 1}, "shard_index=2: expected an"),
        ({"num_shards": 2}, "num_shards > 1 needs hydra.sweeper.max_batch_size"),
        ({"validate": "maybe"}, "validate='maybe': expected true"),
        ({"resume": "yes"}, "resume='yes': expected true, false or force"),
        ({"max_in_flight": 0}, "max_in_flight=0: expected an integer >= 1"),
        ({"preview": -1}, "preview=-1: expected an integer >= 0"),
    ],
)
def test_a_bad_setting_is_one_error_naming_it(given: Dict[str, Any], message: str) -> None:
    with pytest.raises(SettingError, match=message.replace("(", r"\(").replace("?", r"\?")):
        Settings.of(given)


def test_batches_in_flight_need_a_launcher_that_runs_jobs_elsewhere() -> None:
    with pytest.raises(SettingError, match="BasicLauncher runs them in this process"):
        Settings.of({"max_in_flight": 2}, BasicLauncher())
    assert Settings.of({"max_in_flight": 2}, object()).max_in_flight == 2


def test_the_description_keeps_interpolations_as_written() -> None:
    entry = OmegaConf.create({"_target_": "m.f", "token": "${oc.env:TOKEN}"})
    settings = Settings.of({"entrypoints": [entry], "params": {"lr": "0.1"}})
    assert settings.description(["a=1"]) == {
        "entrypoints": [{"_target_": "m.f", "token": "${oc.env:TOKEN}"}],
        "arguments": ["a=1"],
        "params": {"lr": "0.1"},
        "remove_duplicates": False,
        "filters": [],
    }
    assert settings.command_line(["a=1"]) == ["lr=0.1", "a=1"]


def test_batches_are_numbered_in_the_whole_sweep_whatever_the_shard() -> None:
    shard = Settings.of({"max_batch_size": 5, "num_shards": 2, "shard_index": 1})
    assert [shard.batch_number(start, 0) for start in (5, 15)] == [2, 4]
    assert shard.cut() == {"max_batch_size": 5, "num_shards": 2, "shard_index": 1}
    assert shard.shard_name() == "Shard index 1 of 2 shards"


def test_the_documented_defaults_are_the_config_s() -> None:
    """docs/settings.md shows the structured config's defaults: every setting, as it is."""
    import re

    import yaml
    from omegaconf import OmegaConf

    from hydra_plugins.hydra_python_sweeper.config import PythonSweeperConf

    page = (Path(__file__).resolve().parents[2] / "docs" / "settings.md").read_text()
    block = re.search(r"```yaml\n# @package hydra.sweeper\n(.*?)```", page, re.DOTALL)
    assert block is not None
    documented = yaml.safe_load(block[1])
    assert documented == OmegaConf.to_container(OmegaConf.structured(PythonSweeperConf))


def test_every_setting_has_a_row_in_the_documented_table() -> None:
    """docs/settings.md's table has a row for each setting of the structured config."""
    import dataclasses
    import re

    from hydra_plugins.hydra_python_sweeper.config import PythonSweeperConf

    page = (Path(__file__).resolve().parents[2] / "docs" / "settings.md").read_text()
    rows = re.findall(r"^\| (`[^|]+`) \|", page, re.MULTILINE)
    named = {name.strip("` ") for row in rows for name in row.split(",")}
    settings = {f.name for f in dataclasses.fields(PythonSweeperConf)} - {"_target_", "_recursive_"}
    assert settings <= named


def test_a_quoted_number_is_converted_and_a_word_refused_by_the_typed_config() -> None:
    """docs/settings.md: the settings are typed by the structured config, as Hydra merges a
    command line's ``hydra.sweeper.max_batch_size='10'`` into it."""
    from omegaconf.errors import ValidationError

    config = OmegaConf.structured(PythonSweeperConf)
    assert OmegaConf.merge(config, {"max_batch_size": "10"}).max_batch_size == 10
    with pytest.raises(ValidationError, match="could not be converted to Integer"):
        OmegaConf.merge(config, {"max_batch_size": "abc"})
