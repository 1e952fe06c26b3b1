"""rnnbook.store.study_file: how a stored study is opened, resumed and written."""

import json

import pytest

from rnnbook.errors import ConfigError
from rnnbook.store.study_file import open_study

FMT = "rnnbook-test-study/1"


def _open(path, study=None, **kw):
    fixed = {"protocol": "quick", "study": study or {"length": 50, "seeds": (0, 1)}}
    return open_study(path, FMT, "test study file", fixed, {"runs": []}, **kw)


def test_a_new_file_has_the_settings_and_one_session_per_use(tmp_path):
    path = tmp_path / "s" / "quick.json"
    with _open(path, session={"budget_s": 60}) as file:
        file.data["runs"].append({"seed": 0})
        file.save()
    with _open(path) as file:
        assert file.data["runs"] == [{"seed": 0}]  # resumed, not restarted
    data = json.loads(path.read_text())
    assert data["format"] == FMT and data["study"] == {"length": 50, "seeds": [0, 1]}
    assert [s.get("budget_s") for s in data["sessions"]] == [60, None]
    assert all("ended" in s and "code" in s for s in data["sessions"])


def test_a_file_of_other_settings_is_refused_in_one_line(tmp_path):
    path = tmp_path / "quick.json"
    with _open(path):
        pass
    with pytest.raises(ConfigError, match=r"another study \(study differ\); move it away") as err:
        with _open(path, study={"length": 100, "seeds": (0, 1)}):
            pass
    assert "\n" not in str(err.value)
    (tmp_path / "other.json").write_text(json.dumps({"format": "rnnbook-else/1"}))
    with pytest.raises(ConfigError, match="test study file"):
        with _open(tmp_path / "other.json"):
            pass


def test_an_interrupted_session_keeps_the_saved_units_and_stays_open(tmp_path):
    path = tmp_path / "quick.json"
    with pytest.raises(KeyboardInterrupt):
        with _open(path) as file:
            file.data["runs"].append({"seed": 0})
            file.save()
            file.data["runs"].append({"seed": 1})  # measured but never saved
            raise KeyboardInterrupt
    data = json.loads(path.read_text())
    assert data["runs"] == [{"seed": 0}]
    assert "ended" not in data["sessions"][-1]
