"""Result files: determinism, resume after an interruption, atomic writes, refusals."""

import json
import os

import pytest

from rnnbook.errors import ConfigError
from rnnbook.store import provenance
from rnnbook.store.jsonio import write_json_atomic
from rnnbook.synthetic import results
from rnnbook.synthetic.experiments import load_config
from rnnbook.synthetic.results import (
    ResultsMismatchError,
    downsample_curves,
    load_results,
    strip_volatile,
)
from rnnbook.synthetic.sweeps import run_sweep
from rnnbook.verdicts.outcomes import format_table


def _tiny(tiny_config, **over):
    return load_config(tiny_config(**over))["tiny"]


def _sweep(exp, out, **kw):
    run_sweep(exp, "quick", out, max_parallel=kw.pop("max_parallel", 64), **kw)
    return json.loads((out / "tiny" / "quick.json").read_text())


def test_same_sweep_twice_gives_identical_files(tiny_config, tmp_path):
    exp = _tiny(tiny_config)
    a = _sweep(exp, tmp_path / "a")
    b = _sweep(exp, tmp_path / "b")
    assert a["completed"] == a["planned"] == 8
    assert [r["index"] for r in a["runs"]] == list(range(8))  # grid order, not completion order
    assert strip_volatile(a) == strip_volatile(b)
    assert a["provenance"]["sessions"][0]["code"]["rnnbook"]
    assert all("wall_time_s" in r for r in a["runs"])
    run = a["runs"][0]
    assert run["config"]["hidden"] == 4 and run["config"]["seed"] == 0
    for k in ("success", "updates", "best_valid_error", "final_valid_error", "curves", "key"):
        assert k in run


def test_resume_after_interrupt_repeats_nothing(tiny_config, tmp_path, trained):
    # The interruption changes which runs share an ensemble afterwards (8 members before, 6
    # after): the resumed file must still equal the uninterrupted one bit for bit, because a
    # member's float32 arithmetic does not depend on the other members.
    exp = _tiny(tiny_config)
    reference = _sweep(exp, tmp_path / "ref")
    trained.clear()

    saved = []

    def interrupt_after_two(result, record):
        saved.append(record["key"])
        if len(saved) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(exp, "quick", tmp_path / "run", max_parallel=64, on_saved=interrupt_after_two)
    partial = json.loads((tmp_path / "run" / "tiny" / "quick.json").read_text())
    assert [r["key"] for r in partial["runs"]] == sorted(saved, key=[c.key() for c in exp.runs("quick")].index)
    assert partial["provenance"]["sessions"][-1]["interrupted"] is True

    trained.clear()
    final = _sweep(exp, tmp_path / "run")
    keys = [k for call, _ in trained for k in call]
    assert not set(saved) & set(keys), "a finished run was trained again"
    assert sorted(keys + saved) == sorted(c.key() for c in exp.runs("quick"))
    assert strip_volatile(final) == strip_volatile(reference)
    assert len(final["provenance"]["sessions"]) == 2

    trained.clear()  # a third call has nothing to do
    _sweep(exp, tmp_path / "run")
    assert trained == []


def test_limit_then_rest(tiny_config, tmp_path):
    exp = _tiny(tiny_config)
    part = _sweep(exp, tmp_path, limit=3)
    assert part["completed"] == 3 and [r["index"] for r in part["runs"]] == [0, 1, 2]
    assert _sweep(exp, tmp_path)["completed"] == 8


def test_refuses_a_file_made_with_other_settings(tiny_config, tmp_path):
    _sweep(_tiny(tiny_config), tmp_path, limit=2)
    with pytest.raises(ResultsMismatchError, match="different config") as info:
        _sweep(_tiny(tiny_config, lr=0.05), tmp_path)
    assert "lr" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_refuses_a_run_whose_stored_config_differs(tiny_config, tmp_path):
    exp = _tiny(tiny_config)
    data = _sweep(exp, tmp_path, limit=1)
    data["runs"][0]["config"]["batch"] = 7  # same key, different config
    (tmp_path / "tiny" / "quick.json").write_text(json.dumps(data))
    with pytest.raises(ResultsMismatchError, match="batch"):
        _sweep(exp, tmp_path)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(path, {"a": 2, "b": list(range(1000))})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left

    monkeypatch.undo()
    with pytest.raises(ValueError):  # a value that cannot be written: the old file stays too
        write_json_atomic(path, {"x": _Unjsonable()})
    assert path.read_bytes() == before


class _Unjsonable:
    def __str__(self):
        raise ValueError("cannot serialise")


def test_non_finite_values_become_null(tmp_path):
    write_json_atomic(tmp_path / "x.json", {"v": [1.0, float("nan"), float("inf")]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": [1.0, None, None]}


def test_downsample_curves():
    n = 1001
    c = downsample_curves({"update": list(range(n)), "valid_error": [i / n for i in range(n)], "short": [1, 2]})
    assert len(c["update"]) <= results.MAX_CURVE_POINTS and c["update"][0] == 0 and c["update"][-1] == n - 1
    assert [u / n for u in c["update"]] == c["valid_error"]  # aligned curves stay aligned
    assert c["short"] == [1, 2]


def test_show_table(tiny_config, tmp_path):
    _sweep(_tiny(tiny_config), tmp_path)
    text = format_table(load_results(tmp_path / "tiny" / "quick.json"))
    assert "8 of 8 runs" in text and "sigmoid / msgd_cr" in text and "T=10" in text
    with pytest.raises(ConfigError, match="not an rnnbook-results"):
        (tmp_path / "bad.json").write_text("{}")
        load_results(tmp_path / "bad.json")


def test_runs_are_dealt_round_robin():
    from rnnbook.synthetic.workers import shares

    assert shares(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    assert shares([0], 4) == [[0]]  # no empty worker


def test_workers_are_for_cpus(tiny_config, tmp_path):
    """Refused before the results file is touched."""
    with pytest.raises(ConfigError, match="--workers"):
        run_sweep(_tiny(tiny_config), "quick", tmp_path / "res", device="cuda", workers=2)
    with pytest.raises(ConfigError, match="workers"):
        run_sweep(_tiny(tiny_config), "quick", tmp_path / "res", workers=0)
    assert not (tmp_path / "res").exists()


def test_code_version_of_a_copy_sent_elsewhere(monkeypatch):
    """A tree copied to another machine is told its commit; what git says there is kept beside it."""
    monkeypatch.delenv(provenance.COMMIT_ENV, raising=False)
    here = provenance.code_version()
    assert "commit_from" not in here
    monkeypatch.setenv(provenance.COMMIT_ENV, "0123abc")
    sent = provenance.code_version()
    assert sent["git_commit"] == "0123abc" and sent["commit_from"] == provenance.COMMIT_ENV
    assert sent["git_in_copy"] == {"commit": here["git_commit"], "dirty": here["git_dirty"]}


def test_one_reader_for_every_format(tmp_path):
    """jsonio.read_json: the format field is checked, every problem is one line naming the file's kind."""
    import tomllib

    from rnnbook.store import jsonio

    good = tmp_path / "g.json"
    jsonio.write_json_atomic(good, {"format": "x/1", "value": float("nan")})
    assert jsonio.read_json(good, "x/1", what="x file") == {"format": "x/1", "value": None}
    assert jsonio.format_of(good) == "x/1" and jsonio.format_of(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "bad.toml").write_text("[[item]\n")
    for call, needle in [
        (lambda: jsonio.read_json(tmp_path / "none.json", "x/1", what="x file"), "cannot read x file"),
        (lambda: jsonio.read_json(tmp_path / "bad.json", "x/1", what="x file"), "is not a JSON x file"),
        (lambda: jsonio.read_json(good, "y/1", what="y file"), "is not an y/1 y file"),
        (lambda: jsonio.parse_file(tmp_path / "bad.toml", tomllib.loads, "queue"), "malformed queue"),
    ]:
        with pytest.raises(ConfigError, match=needle) as info:
            call()
        assert "\n" not in str(info.value)
    assert provenance.cpu_name() and provenance.environment()["cpu"] == provenance.cpu_name()
