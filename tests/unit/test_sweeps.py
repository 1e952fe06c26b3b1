"""Long sweeps over several sittings: higher caps continue censored runs, checkpoints survive a kill,
shards merge into the unsharded file, old files are refused until migrated (then re-keyed) -- each
time the same bits as one uninterrupted sweep."""

import json
import subprocess
import sys

import pytest
import torch

from rnnbook.cli import main
from rnnbook.store.checkpoints import load_states, states_path
from rnnbook.synthetic import results, results_file
from rnnbook.synthetic.experiments import load_config, with_overrides
from rnnbook.synthetic.results import strip_volatile
from rnnbook.synthetic.sweeps import merge_shards, run_sweep


def _tiny(tiny_config, **over):
    return load_config(tiny_config(**over))["tiny"]


def _file(out):
    return json.loads((out / "tiny" / "quick.json").read_text())


def test_raising_the_cap_continues_exactly_the_censored_runs(tiny_config, tmp_path, trained):
    exp = _tiny(tiny_config, max_updates=20, check_every=10)
    run_sweep(exp, "quick", tmp_path / "short")
    first = _file(tmp_path / "short")
    censored = [r for r in first["runs"] if r["censored"]]
    assert censored and first["censored"] == len(censored)  # a 4-unit model does not solve it in 20 updates
    states = load_states(states_path(tmp_path / "short" / "tiny" / "quick.json"))
    states = {k: s for k, s in states.items() if s.kind != "solved"}
    assert sorted(states) == sorted(r["key"] for r in censored)
    assert {s.kind for s in states.values()} == {"censored"} and {s.updates for s in states.values()} == {20}

    longer = with_overrides(exp, "quick", ["max_updates=50"])
    trained.clear()
    run_sweep(longer, "quick", tmp_path / "short")
    (keys, resumed), = trained
    assert sorted(keys) == sorted(resumed) == sorted(r["key"] for r in censored)

    run_sweep(longer, "quick", tmp_path / "one_go")
    continued, one_go = _file(tmp_path / "short"), _file(tmp_path / "one_go")
    assert strip_volatile(continued) == strip_volatile(one_go)
    assert all(r["sittings"] == 2 for r in continued["runs"] if r["key"] in resumed)
    assert all(r["updates"] == 50 for r in continued["runs"] if r["censored"])
    # and the weights kept for the next raise are the same bits too
    a = load_states(states_path(tmp_path / "short" / "tiny" / "quick.json"))
    b = load_states(states_path(tmp_path / "one_go" / "tiny" / "quick.json"))
    assert sorted(a) == sorted(b)
    for k in a:
        for name in a[k].weights:
            assert torch.equal(a[k].weights[name], b[k].weights[name])
        assert a[k].stream_calls == b[k].stream_calls

    trained.clear()
    run_sweep(longer, "quick", tmp_path / "short")  # nothing left to do at this cap
    assert trained == []


def test_a_cap_off_the_check_grid_keeps_no_state_and_trains_again(tiny_config, tmp_path, trained):
    exp = _tiny(tiny_config, max_updates=15, check_every=10)  # the check at 15 would not exist in a longer run
    run_sweep(exp, "quick", tmp_path / "a")
    kept = load_states(states_path(tmp_path / "a" / "tiny" / "quick.json"))
    assert all(s.kind == "solved" for s in kept.values())
    trained.clear()
    longer = with_overrides(exp, "quick", ["max_updates=30"])
    run_sweep(longer, "quick", tmp_path / "a")
    (keys, resumed), = trained
    assert keys and resumed == []  # from scratch
    run_sweep(longer, "quick", tmp_path / "b")
    assert strip_volatile(_file(tmp_path / "a")) == strip_volatile(_file(tmp_path / "b"))


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_checkpoints_let_a_killed_sweep_go_on_where_each_run_was(tiny_config, tmp_path, monkeypatch, workers):
    exp = _tiny(tiny_config, max_updates=60, check_every=10)
    real = results_file.ResultsFile.checkpoint
    seen = []

    def checkpoint_then_die(self, state):
        real(self, state)
        seen.append(state.key)
        if len(seen) == 6:
            raise KeyboardInterrupt  # as if killed right after the 6th checkpoint

    monkeypatch.setattr(results_file.ResultsFile, "checkpoint", checkpoint_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(exp, "quick", tmp_path / "killed", checkpoint_every_s=1e-9, workers=workers)
    states = load_states(states_path(tmp_path / "killed" / "tiny" / "quick.json"))
    kept = {k: s for k, s in states.items() if s.kind == "checkpoint"}
    assert kept and all(0 < s.updates < 60 and s.updates % 10 == 0 for s in kept.values())
    assert _file(tmp_path / "killed")["provenance"]["sessions"][-1]["interrupted"]

    monkeypatch.setattr(results_file.ResultsFile, "checkpoint", real)
    run_sweep(exp, "quick", tmp_path / "killed", workers=workers)
    run_sweep(exp, "quick", tmp_path / "clean")
    resumed, clean = _file(tmp_path / "killed"), _file(tmp_path / "clean")
    assert strip_volatile(resumed) == strip_volatile(clean)
    assert any(r["sittings"] == 2 for r in resumed["runs"] if r["key"] in kept)
    # a finished run's checkpoint is replaced by its final state (censored, or solved)
    after = load_states(states_path(tmp_path / "killed" / "tiny" / "quick.json"))
    assert {s.kind for s in after.values()} <= {"censored", "solved"}


@pytest.mark.slow
def test_shards_in_separate_processes_merge_into_the_unsharded_file(tiny_config, tmp_path):
    config = tiny_config(max_updates=20, check_every=10)
    out = tmp_path / "sharded"
    procs = [subprocess.Popen([sys.executable, "-m", "rnnbook", "run", "tiny", "--config", str(config),
                               "--results-dir", str(out), "--shard", f"{k}/3", "--no-progress"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in (1, 2, 3)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    shards = sorted((out / "tiny").glob("quick.shard-*-of-3.json"))
    assert [json.loads(p.read_text())["planned"] for p in shards] == [3, 3, 2]  # 8 runs dealt 3 ways
    assert main(["merge", *map(str, shards), "--out", str(out / "tiny" / "quick.json")]) == 0
    merged = _file(out)
    run_sweep(load_config(config)["tiny"], "quick", tmp_path / "whole")
    whole = _file(tmp_path / "whole")
    assert strip_volatile(merged) == strip_volatile(whole)
    assert len(merged["provenance"]["sessions"]) == 3
    assert sorted(load_states(states_path(out / "tiny" / "quick.json"))) == \
        sorted(load_states(states_path(tmp_path / "whole" / "tiny" / "quick.json")))
    # the merged file is an ordinary results file: a higher cap continues it
    assert main(["run", "tiny", "--config", str(config), "--results-dir", str(out), "--set", "max_updates=30",
                 "--no-progress"]) == 0


def test_merge_refuses_incomplete_or_mixed_shards(tiny_config, tmp_path, capsys):
    exp = _tiny(tiny_config)
    for k in (1, 2):
        run_sweep(exp, "quick", tmp_path, shard=(k, 3))
    files = sorted((tmp_path / "tiny").glob("quick.shard-*.json"))
    with pytest.raises(results.ConfigError, match=r"shards \[3\] of 3 are missing"):
        merge_shards(files, tmp_path / "m.json")
    with pytest.raises(results.ConfigError, match="both shard 1 of 3"):
        merge_shards([files[0], files[0]], tmp_path / "m.json")
    assert main(["merge", str(tmp_path / "tiny" / "quick.json"), "--out", str(tmp_path / "m.json")]) == 2
    assert "cannot read results file" in capsys.readouterr().err


def test_files_written_before_the_cap_left_the_key_are_refused_then_rekeyed_by_the_migration(tiny_config, tmp_path,
                                                                                               trained):
    import hashlib

    from rnnbook.campaign.migrate import migrate
    from rnnbook.errors import ConfigError

    exp = _tiny(tiny_config)
    run_sweep(exp, "quick", tmp_path)
    path = tmp_path / "tiny" / "quick.json"
    data = json.loads(path.read_text())
    for rec in data["runs"]:  # the old key: every field hashed, the cap too; no censored/sittings fields
        digest = hashlib.sha256(json.dumps(rec["config"], sort_keys=True).encode()).hexdigest()[:12]
        rec["key"] = rec["key"].rsplit("-", 1)[0] + "-" + digest
        del rec["censored"], rec["sittings"]
    path.write_text(json.dumps(data))
    trained.clear()
    with pytest.raises(ConfigError, match="without censored: it was written before the one-off migration"):
        run_sweep(exp, "quick", tmp_path)  # never silently trained again under new keys
    assert migrate(tmp_path, say=lambda line: None)[str(path)] == [
        "8 run key(s) from before f8c7c0d", "runs without censored", "runs without sittings",
        "states file with digests"]
    run_sweep(exp, "quick", tmp_path)
    assert trained == []
    assert strip_volatile(json.loads(path.read_text()))["runs"] == strip_volatile(_file(tmp_path))["runs"]


@pytest.mark.parametrize("args,needle", [
    (["--set", "threshold"], "--set expects NAME=VALUE"),
    (["--set", "thresh=2"], "unknown setting"),
    (["--set", "max_updates=ten"], "expected an integer"),
    (["--set", "lr=-1"], "must be > 0"),
    (["--shard", "4/3"], "1 <= K <= N"),
    (["--shard", "a/b"], "K/N"),
    (["--checkpoint-every", "0"], "must be > 0"),
])
def test_bad_sweep_options_exit_2_with_one_line(tiny_config, tmp_path, capsys, args, needle):
    code = main(["run", "tiny", "--config", str(tiny_config()), "--results-dir", str(tmp_path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0], err


def test_set_is_recorded_and_accepts_1e6_for_integers(tiny_config):
    exp = with_overrides(_tiny(tiny_config), "quick", ["max_updates=1e2", "threshold=2"])
    p = exp.protocol("quick")
    assert p.settings["max_updates"] == 100 and isinstance(p.settings["max_updates"], int)
    assert p.settings["threshold"] == 2.0
    assert "--set" in p.label and p.provenance["threshold"].startswith("set on the command line")


def test_a_sweep_of_part_of_the_grid_keeps_the_whole_grid_in_the_header(tiny_config, tmp_path):
    # The whole grid at a cap of 20, then only the basic tanh runs under a cap of 40 (a config file
    # with fewer inits, as sweeps/fig7_cap1e6_msgd_cr_long.toml): the file must still describe the
    # whole grid, with every run in its grid place -- exactly what a sweep of the whole grid at
    # the first cap writes afterwards (it has nothing left to train).
    whole = _tiny(tiny_config)
    part_cfg = json.loads(tiny_config().read_text())
    part_cfg["experiments"]["tiny"]["inits"] = ["basic_tanh"]
    part_cfg["experiments"]["tiny"]["protocols"]["quick"]["max_updates"] = 40
    part_path = tmp_path / "part.json"
    part_path.write_text(json.dumps(part_cfg))
    part = load_config(part_path)["tiny"]

    run_sweep(whole, "quick", tmp_path / "out")
    before = _file(tmp_path / "out")
    assert any(r["censored"] for r in before["runs"] if r["config"]["init"] == "basic_tanh")
    run_sweep(part, "quick", tmp_path / "out")
    after = _file(tmp_path / "out")
    assert after["spec"] == before["spec"] and after["planned"] == before["planned"] == 8
    assert [r["index"] for r in after["runs"]] == list(range(8))
    assert [r["key"] for r in after["runs"]] == [r["key"] for r in before["runs"]]
    continued = [r for r in after["runs"] if r["config"]["init"] == "basic_tanh" and r["censored"]]
    assert continued and {r["updates"] for r in continued} == {40}  # the part's runs did go on
    assert after["completed"] == 8 and after["censored"] == sum(r["censored"] for r in after["runs"])

    run_sweep(whole, "quick", tmp_path / "out")  # the whole grid again: nothing to train, same file
    assert strip_volatile(_file(tmp_path / "out")) == strip_volatile(after)


def _make_legacy(path):
    """Turn a results file and its states into the shapes older versions wrote: keys with the cap
    hashed in, no censored/sittings/diverged fields, a states file without digests."""
    import hashlib

    data = json.loads(path.read_text())
    for rec in data["runs"]:
        digest = hashlib.sha256(json.dumps(rec["config"], sort_keys=True).encode()).hexdigest()[:12]
        rec["key"] = rec["key"].rsplit("-", 1)[0] + "-" + digest
        del rec["censored"], rec["sittings"], rec["diverged"]
    path.write_text(json.dumps(data))
    sp = states_path(path)
    raw = torch.load(sp, weights_only=True)
    torch.save({"format": raw["format"], "states": raw["states"]}, sp)


def test_legacy_files_are_refused_in_one_line_until_migrated_and_then_continue_bit_for_bit(tiny_config, tmp_path,
                                                                                            capsys):
    import shutil

    from rnnbook.campaign.migrate import migrate, todays_key, was_censored
    from rnnbook.errors import ConfigError

    exp = _tiny(tiny_config)
    run_sweep(exp, "quick", tmp_path / "today")
    today = _file(tmp_path / "today")
    run_sweep(exp, "quick", tmp_path / "old")
    _make_legacy(tmp_path / "old" / "tiny" / "quick.json")
    shutil.copytree(tmp_path / "old", tmp_path / "new")

    old_file = tmp_path / "old" / "tiny" / "quick.json"
    with pytest.raises(ConfigError) as refused:
        results.load_results(old_file)
    assert str(refused.value) == (
        f"{str(old_file)!r} holds runs without censored/diverged: it was written before the one-off "
        f"migration; bring it forward with `python -m rnnbook.campaign.migrate {tmp_path / 'old'}`, then run this again")
    higher = with_overrides(exp, "quick", ["max_updates=30"])
    with pytest.raises(ConfigError, match="before the one-off migration"):
        run_sweep(higher, "quick", tmp_path / "old")  # refused before anything is trained or written
    assert "censored" not in json.loads(old_file.read_text())["runs"][0]
    capsys.readouterr()
    assert main(["show", str(old_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "python -m rnnbook.campaign.migrate" in err and "Traceback" not in err

    done = migrate(tmp_path / "new", say=lambda line: None)
    assert done[str(tmp_path / "new" / "tiny" / "quick.json")]
    migrated = _file(tmp_path / "new")
    assert strip_volatile(migrated) == strip_volatile(today)  # today's shape, nothing else changed
    for rec in migrated["runs"]:  # what the migration computes agrees with what today's code wrote
        assert todays_key(rec) == rec["key"] and {"censored", "sittings", "diverged"} <= set(rec)
        assert rec["censored"] == was_censored({k: v for k, v in rec.items() if k != "censored"})
    sp = states_path(tmp_path / "new" / "tiny" / "quick.json")
    assert torch.load(sp, weights_only=True)["sha256"] is not None
    assert sorted(load_states(sp)) == sorted(load_states(states_path(tmp_path / "today" / "tiny" / "quick.json")))
    assert migrate(tmp_path / "new", say=lambda line: None) == {str(tmp_path / "new" / "tiny" / "quick.json"): []}

    for name in ("today", "new"):  # continued from the migrated file as from today's
        run_sweep(higher, "quick", tmp_path / name)
    assert strip_volatile(_file(tmp_path / "new")) == strip_volatile(_file(tmp_path / "today"))
