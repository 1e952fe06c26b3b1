"""Results that survive anything: the defects D1-D13 of the reliability review
(/work/shared/reviews/reliability.md, commit 674cdeb), each as a test that failed there.

Every test uses the tiny sweep of conftest.py (8 runs of a 4-unit model, a second or two); a
kill -9 is a real SIGKILL of a child process, timed by a patched write function in that child.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import pytest
import torch

from rnnbook.cli import main
from rnnbook.errors import ConfigError
from rnnbook.store.checkpoints import load_states, states_path
from rnnbook.synthetic import results_file, training
from rnnbook.synthetic.experiments import load_config, with_overrides
from rnnbook.synthetic.results import strip_volatile
from rnnbook.synthetic.sweeps import merge_shards, run_sweep

pytestmark = pytest.mark.slow  # kills, locks and racing processes: make test runs these, make test-unit does not

# 0.7 as the success threshold makes a mix: six of the eight runs solve (at 10-40 updates), two are censored
MIXED = dict(success_error=0.7, max_updates=40, check_every=10)


def _exp(tiny_config, **over):
    return load_config(tiny_config(**over))["tiny"]


def _json(out):
    return json.loads((out / "tiny" / "quick.json").read_text())


def _states(out):
    return load_states(states_path(out / "tiny" / "quick.json"))


def _same_states(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert (a[k].kind, a[k].updates, a[k].stream_calls) == (b[k].kind, b[k].updates, b[k].stream_calls), k
        assert all(torch.equal(a[k].weights[n], b[k].weights[n]) for n in a[k].weights), k


def _refused(capsys, args, *needles):
    """Run the CLI with ``args``: it must exit 2, ending in one error line that holds every needle
    (a sweep may have printed its start line before it failed), and print no traceback."""
    capsys.readouterr()
    code = main(args)
    return _one_error_line(code, capsys.readouterr().err, *needles)


def _one_error_line(code, stderr, *needles):
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("rnnbook: error:")]
    assert code == 2 and len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in errors[0], errors
    return errors[0]


def _run_args(config, out, *more):
    return ["run", "tiny", "--config", str(config), "--results-dir", str(out), "--no-progress", *more]


# A child that runs the sweep and SIGKILLs itself at a chosen write: "between" = between the
# states write and the JSON write of the first save that holds a solved run (either order).
KILLER = textwrap.dedent("""
    import os, signal, sys
    from rnnbook.synthetic import results_file
    from rnnbook.synthetic.experiments import load_config
    from rnnbook.synthetic.sweeps import run_sweep

    config, out, when = sys.argv[1:4]
    real_json, real_states, real_save = (results_file.write_json_atomic, results_file.save_states,
                                         results_file.ResultsFile.save)

    def save(self, states=True):
        if any(s.kind == "solved" for s in self.states.values()):
            writes = []
            def die_second(real):
                def write(*a, **k):
                    writes.append(1)
                    if len(writes) == 2:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return real(*a, **k)
                return write
            results_file.write_json_atomic, results_file.save_states = die_second(real_json), die_second(real_states)
        return real_save(self, states)

    results_file.ResultsFile.save = save
    run_sweep(load_config(config)["tiny"], "quick", out)
""")


def _killed_sweep(config, out):
    r = subprocess.run([sys.executable, "-c", KILLER, str(config), str(out), "between"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr


# -- D1: one writer per file ---------------------------------------------------------------------


HOLDER = "import sys, time\nfrom rnnbook.store.lock import exclusive\nwith exclusive(sys.argv[1]):\n" \
         "    print('held', flush=True)\n    time.sleep(120)\n"


def test_d1_a_second_writer_is_refused_naming_the_holder_and_a_dead_holder_is_recovered(tiny_config, tmp_path,
                                                                                          capsys):
    from rnnbook.store.lock import LockedError, lock_path

    config = tiny_config()
    assert main(_run_args(config, tmp_path, "--limit", "2")) == 0
    path = tmp_path / "tiny" / "quick.json"
    before = path.read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        line = _refused(capsys, _run_args(config, tmp_path), "being written by another process",
                               f"pid {holder.pid} on ", "since ")
        assert str(path) in line
        assert path.read_bytes() == before  # untouched
        with pytest.raises(LockedError):
            run_sweep(_exp(tiny_config), "quick", tmp_path)
    finally:
        holder.kill()  # SIGKILL: the lock is left behind by a dead process
        holder.wait()
    assert main(_run_args(config, tmp_path)) == 0  # ... and the next writer simply takes it
    assert _json(tmp_path)["completed"] == 8 and not lock_path(path).exists()


def test_d1_two_sweeps_started_together_on_one_file_lose_nothing(tiny_config, tmp_path):
    config = tiny_config(**MIXED)
    cmd = [sys.executable, "-m", "rnnbook", *_run_args(config, tmp_path / "both")]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    refused = [err for p, (_, err) in zip(procs, outs) if p.returncode == 2]
    # one trains everything; the other is refused at once (or, if it started after the first ended, has nothing to do)
    assert codes in ([0, 2], [0, 0]), outs
    assert all("being written by another process" in err for err in refused)
    if codes == [0, 0]:
        assert any(", 0 to train now" in err for _, err in outs), outs  # never every run trained twice
    run_sweep(_exp(tiny_config, **MIXED), "quick", tmp_path / "one")
    assert strip_volatile(_json(tmp_path / "both")) == strip_volatile(_json(tmp_path / "one"))
    _same_states(_states(tmp_path / "both"), _states(tmp_path / "one"))


def test_d1_the_lock_is_taken_again_by_its_own_process(tmp_path):
    from rnnbook.store.lock import exclusive, lock_path

    path = tmp_path / "x" / "f.json"
    with exclusive(path):
        with exclusive(path):  # a campaign running a sweep: the same process may nest
            assert lock_path(path).exists()
        assert lock_path(path).exists()
    assert not lock_path(path).exists()


def test_d1_merge_and_generalise_refuse_a_second_writer(tiny_config, tmp_path, capsys):
    from rnnbook.synthetic.generalisation import generalisation_path

    exp = _exp(tiny_config, **MIXED)
    for k in (1, 2):
        run_sweep(exp, "quick", tmp_path, shard=(k, 2))
    shards = sorted(str(p) for p in (tmp_path / "tiny").glob("quick.shard-*.json"))
    merged = tmp_path / "tiny" / "quick.json"
    for target, args in ((merged, ["merge", *shards, "--out", str(merged)]),
                         (generalisation_path(shards[0]), ["generalise", shards[0], "--lengths", "10",
                                                           "--sequences", "10"])):
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            _refused(capsys, args, "being written by another process", f"pid {holder.pid}")
        finally:
            holder.kill()
            holder.wait()
        capsys.readouterr()
        assert main(args) == 0


# -- D2: a solved state is never resumed ---------------------------------------------------------


def test_d2_with_the_json_lost_solved_states_are_not_continued(tiny_config, tmp_path):
    exp = _exp(tiny_config, **MIXED)
    run_sweep(exp, "quick", tmp_path / "ref")
    ref = _json(tmp_path / "ref")
    solved_early = [r for r in ref["runs"] if r["success"] and r["updates"] < 40]
    assert solved_early  # the case that went wrong: a solved run stopped before its cap
    run_sweep(exp, "quick", tmp_path / "lost")
    (tmp_path / "lost" / "tiny" / "quick.json").unlink()  # a user deletes an unreadable JSON; the states stay
    rf = run_sweep(exp, "quick", tmp_path / "lost")
    assert rf.resumable(rf.configs) == {k: s for k, s in rf.states.items() if s.kind != "solved"
                                        and s.updates < 40} == {}
    assert strip_volatile(_json(tmp_path / "lost")) == strip_volatile(ref)
    _same_states(_states(tmp_path / "lost"), _states(tmp_path / "ref"))


# -- D3 and D12: killed between the two writes; the killed session is marked -----------------------


def test_d3_a_kill_between_the_states_and_the_json_write_loses_nothing(tiny_config, tmp_path):
    config = tiny_config(**MIXED)
    _killed_sweep(config, tmp_path / "k")
    kept = _states(tmp_path / "k")
    recorded = [r for r in _json(tmp_path / "k")["runs"] if r["success"]]
    # whatever the kill left, a run the JSON records as solved has its weights
    assert all(r["key"] in kept and kept[r["key"]].kind == "solved" for r in recorded)
    run_sweep(_exp(tiny_config, **MIXED), "quick", tmp_path / "k")
    run_sweep(_exp(tiny_config, **MIXED), "quick", tmp_path / "ref")
    assert strip_volatile(_json(tmp_path / "k")) == strip_volatile(_json(tmp_path / "ref"))
    _same_states(_states(tmp_path / "k"), _states(tmp_path / "ref"))  # every solved run's weights are there


def test_d12_a_session_killed_outright_is_marked_killed_by_the_next_start(tiny_config, tmp_path):
    config = tiny_config(**MIXED)
    _killed_sweep(config, tmp_path / "k")
    during = _json(tmp_path / "k")["provenance"]["sessions"]
    assert during[-1]["interrupted"] is True and during[-1]["status"] == "running"  # as the kill left it
    run_sweep(_exp(tiny_config, **MIXED), "quick", tmp_path / "k")
    first, second = _json(tmp_path / "k")["provenance"]["sessions"]
    assert (first["status"], first["interrupted"]) == ("killed", True)
    assert (second["status"], second["interrupted"]) == ("finished", False)


# -- D4: natural rebuilds its JSON from a complete state -------------------------------------------


def _natural():
    sys.path.insert(0, os.path.dirname(__file__))
    from test_natural import CFG, EXP, small_data

    return EXP, CFG, small_data()


def test_d4_natural_killed_before_its_last_json_write_finishes_it_on_the_next_start(tmp_path, monkeypatch):
    from rnnbook.natural import training as nt

    exp, cfg, data = _natural()
    whole = nt.train_natural(exp, cfg, tmp_path / "a.json", data=data)
    real = nt.write_json_atomic

    class Killed(BaseException):
        pass

    def die_at_the_end(path, obj):
        if obj["epochs_done"] == cfg.epochs:
            raise Killed  # as a kill -9 right after the state of the last epoch was written
        real(path, obj)

    monkeypatch.setattr(nt, "write_json_atomic", die_at_the_end)
    with pytest.raises(Killed):
        nt.train_natural(exp, cfg, tmp_path / "b.json", data=data)
    monkeypatch.setattr(nt, "write_json_atomic", real)
    assert nt.json_of(tmp_path / "b.json")["epochs_done"] == cfg.epochs - 1  # the JSON is one epoch behind
    resumed = nt.train_natural(exp, cfg, tmp_path / "b.json", data=data)
    assert json.dumps(nt.without_provenance(resumed)) == json.dumps(nt.without_provenance(whole))

    (tmp_path / "b.json").unlink()  # a JSON lost beside a complete state is rebuilt from it
    rebuilt = nt.train_natural(exp, cfg, tmp_path / "b.json", data=data)
    assert json.dumps(nt.without_provenance(rebuilt)) == json.dumps(nt.without_provenance(whole))
    before = (tmp_path / "b.json").read_bytes()
    nt.train_natural(exp, cfg, tmp_path / "b.json", data=data)  # nothing to do: nothing written
    assert (tmp_path / "b.json").read_bytes() == before


def test_d4_natural_refuses_a_second_writer(tmp_path):
    from rnnbook.natural import training as nt
    from rnnbook.store.lock import LockedError

    exp, cfg, data = _natural()
    path = tmp_path / "a.json"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            nt.train_natural(exp, cfg, path, data=data)
    finally:
        holder.kill()
        holder.wait()


# -- D5: a lower cap is refused; a part of the grid under a higher cap still works ----------------


def test_d5_a_cap_below_the_files_is_refused(tiny_config, tmp_path, capsys):
    config = tiny_config(max_updates=40, check_every=10)
    assert main(_run_args(config, tmp_path)) == 0
    path = tmp_path / "tiny" / "quick.json"
    before = path.read_bytes()
    _refused(capsys, _run_args(config, tmp_path, "--set", "max_updates=20"),
                    "cap of 40 updates", "max_updates=40")
    assert path.read_bytes() == before
    assert main(_run_args(config, tmp_path, "--set", "max_updates=40")) == 0  # the same cap: fine
    assert main(_run_args(config, tmp_path, "--set", "max_updates=50")) == 0  # a higher one: continues
    assert _json(tmp_path)["spec"]["protocols"]["quick"]["settings"]["max_updates"] == 50
    # a sweep of part of the grid under a higher cap keeps the header; the whole grid at the header's cap works
    part = json.loads(config.read_text())
    part["experiments"]["tiny"]["inits"] = ["basic_tanh"]
    part["experiments"]["tiny"]["protocols"]["quick"]["max_updates"] = 60
    (tmp_path / "part.json").write_text(json.dumps(part))
    assert main(["run", "tiny", "--config", str(tmp_path / "part.json"), "--results-dir", str(tmp_path),
                 "--no-progress"]) == 0
    assert main(_run_args(config, tmp_path, "--set", "max_updates=50")) == 0


# -- D6: merge checks the grid and the cap ---------------------------------------------------------


def test_d6_merge_refuses_shards_of_another_grid_or_cap_and_runs_out_of_place(tiny_config, tmp_path):
    exp = _exp(tiny_config)
    for k in (1, 2, 3):
        run_sweep(exp, "quick", tmp_path / "a", shard=(k, 3))
    good = sorted((tmp_path / "a" / "tiny").glob("quick.shard-*.json"))
    other_seeds = _exp(tiny_config, name="seeds.json", seeds=[5, 6])
    run_sweep(other_seeds, "quick", tmp_path / "b", shard=(3, 3))
    with pytest.raises(ConfigError, match="another grid"):
        merge_shards([*good[:2], tmp_path / "b" / "tiny" / "quick.shard-3-of-3.json"], tmp_path / "m1.json")
    run_sweep(with_overrides(exp, "quick", ["max_updates=30"]), "quick", tmp_path / "c", shard=(3, 3))
    with pytest.raises(ConfigError, match="max_updates"):
        merge_shards([*good[:2], tmp_path / "c" / "tiny" / "quick.shard-3-of-3.json"], tmp_path / "m2.json")
    moved = json.loads(good[2].read_text())
    moved["runs"][0]["index"], moved["runs"][1]["index"] = moved["runs"][1]["index"], moved["runs"][0]["index"]
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    with pytest.raises(ConfigError, match="is not run"):
        merge_shards([*good[:2], tmp_path / "moved.json"], tmp_path / "m3.json")
    assert not any((tmp_path / f"m{i}.json").exists() for i in (1, 2, 3))
    merge_shards(good, tmp_path / "m.json")  # the right shards still merge


# -- D7: a flipped bit in a states file is refused; so is a file without digests (migrate it) -------


def _flip_a_bit_in_a_tensor(path):
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size >= 16)
    raw = bytearray(path.read_bytes())
    off = info.header_offset
    name_len, extra_len = (int.from_bytes(raw[off + i:off + i + 2], "little") for i in (26, 28))
    raw[off + 30 + name_len + extra_len + 10] ^= 0x40  # the review's flip: bit 0x40 at offset +10
    path.write_bytes(bytes(raw))


def test_d7_a_flipped_bit_is_refused_and_never_trained_on(tiny_config, tmp_path, capsys):
    config = tiny_config()
    assert main(_run_args(config, tmp_path)) == 0
    sp = states_path(tmp_path / "tiny" / "quick.json")
    _flip_a_bit_in_a_tensor(sp)
    with pytest.raises(ConfigError, match="does not match its SHA-256"):
        load_states(sp)
    _refused(capsys, _run_args(config, tmp_path, "--set", "max_updates=30"), "corrupt", "SHA-256")


MIGRATE = "python -m rnnbook.campaign.migrate"


def test_d7_a_states_file_without_digests_is_refused_in_one_line_naming_the_migration(tiny_config, tmp_path,
                                                                                      capsys):
    """A states file written before the digests is refused (never trusted unchecked); the one-off
    migration adds them, and the sweep goes on as from a file that always had them."""
    from rnnbook.campaign.migrate import migrate

    config = tiny_config()
    assert main(_run_args(config, tmp_path)) == 0
    sp = states_path(tmp_path / "tiny" / "quick.json")
    data = torch.load(sp, weights_only=True)
    assert set(data["sha256"]) == set(data["states"])
    del data["sha256"]  # as every states file written before the digests
    torch.save(data, sp)
    with pytest.raises(ConfigError, match="no SHA-256 digests.*before the one-off migration"):
        load_states(sp)
    line = _refused(capsys, _run_args(config, tmp_path, "--set", "max_updates=30"), "no SHA-256 digests",
                    f"`{MIGRATE} {tmp_path}`")
    assert str(sp) in line
    assert migrate(tmp_path, say=lambda line: None)[str(tmp_path / "tiny" / "quick.json")] == ["states file with digests"]
    assert set(torch.load(sp, weights_only=True)["sha256"]) == set(load_states(sp)) and len(load_states(sp)) == 8
    assert main(_run_args(config, tmp_path, "--set", "max_updates=30")) == 0


def test_d7_natural_refuses_a_flipped_bit_in_its_state_and_one_without_its_digest(tmp_path):
    from rnnbook.campaign.migrate import migrate
    from rnnbook.natural import training as nt

    exp, cfg, data = _natural()
    path = tmp_path / exp.name / "paper.json"
    nt.train_natural(exp, cfg, path, data=data, stop_after_updates=7)
    sp = nt.state_path(path)
    good = sp.read_bytes()
    _flip_a_bit_in_a_tensor(sp)
    with pytest.raises(ConfigError, match="does not match its SHA-256"):
        nt.train_natural(exp, cfg, path, data=data)
    old = torch.load(__import__("io").BytesIO(good), weights_only=True)
    del old["sha256"]  # as every state saved before the digests
    torch.save(old, sp)
    with pytest.raises(ConfigError, match=f"state without sha256: .* `{MIGRATE} {tmp_path}`"):
        nt.train_natural(exp, cfg, path, data=data)
    assert migrate(tmp_path, say=lambda line: None)[str(path)] == ["state without sha256"]
    whole = nt.train_natural(exp, cfg, tmp_path / "b.json", data=data)
    resumed = nt.train_natural(exp, cfg, path, data=data)
    assert json.dumps(nt.without_provenance(resumed)) == json.dumps(nt.without_provenance(whole))


# -- D8: failures of the machine end in one line with how to resume -------------------------------


def test_d8_a_full_disk_mid_sweep_is_one_line_with_a_resume_hint_and_loses_nothing(tiny_config, tmp_path,
                                                                                     monkeypatch, capsys):
    config = tiny_config(**MIXED)
    real, calls = results_file.write_json_atomic, []

    def fill_up(path, obj):
        calls.append(1)
        if len(calls) >= 4:
            raise OSError(28, "No space left on device", str(path))
        real(path, obj)

    monkeypatch.setattr(results_file, "write_json_atomic", fill_up)
    _refused(capsys, _run_args(config, tmp_path / "full"), "No space left on device",
             "resume with: python -m rnnbook run tiny")
    monkeypatch.setattr(results_file, "write_json_atomic", real)
    assert main(_run_args(config, tmp_path / "full")) == 0
    run_sweep(_exp(tiny_config, **MIXED), "quick", tmp_path / "ref")
    assert strip_volatile(_json(tmp_path / "full")) == strip_volatile(_json(tmp_path / "ref"))
    assert [s["status"] for s in _json(tmp_path / "full")["provenance"]["sessions"]] == ["killed", "finished"]


def test_d8_results_dir_a_file_and_out_of_memory_are_one_line(tiny_config, tmp_path, monkeypatch, capsys):
    config = tiny_config()
    (tmp_path / "plain").write_text("not a folder")
    _refused(capsys, _run_args(config, tmp_path / "plain"), "cannot write or read")

    def no_memory(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(training, "train_runs", no_memory)
    _refused(capsys, _run_args(config, tmp_path / "oom"), "out of memory", "resume with")
    session = _json(tmp_path / "oom")["provenance"]["sessions"][-1]
    assert (session["status"], session["interrupted"]) == ("interrupted", True)


def _children(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids += [int(c) for c in open(f"/proc/{pid}/task/{task}/children").read().split()]
        except OSError:
            pass
    return kids


def test_d8_a_dying_worker_is_one_line_and_the_session_is_marked_interrupted(tiny_config, tmp_path):
    config = tiny_config(max_updates=100_000, check_every=10)  # long enough to kill a worker in the middle
    out = tmp_path / "w"
    p = subprocess.Popen([sys.executable, "-m", "rnnbook", *_run_args(config, out, "--workers", "2")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        worker, deadline = None, time.monotonic() + 120
        while worker is None and time.monotonic() < deadline:
            for kid in _children(p.pid):
                try:
                    cmd = open(f"/proc/{kid}/cmdline").read()
                except OSError:
                    continue
                if "spawn_main" in cmd and "resource_tracker" not in cmd:
                    worker = kid
            time.sleep(0.2)
        assert worker is not None
        time.sleep(6.0)  # past torch's import, into training: the other worker's progress reports then keep
        # the parent's queue busy, which once hid the death until that worker ended (a hang CI caught)
        os.kill(worker, signal.SIGKILL)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    _one_error_line(p.returncode, err, "a worker process died (killed by signal 9", "resume with")
    session = _json(out)["provenance"]["sessions"][-1]
    assert (session["status"], session["interrupted"]) == ("interrupted", True)


# -- D9: damaged files are one line -----------------------------------------------------------------


def _damaged_files(tiny_config, tmp_path):
    run_sweep(_exp(tiny_config), "quick", tmp_path / "good")
    good = _json(tmp_path / "good")
    cases = {
        "minimal": {"format": "rnnbook-results/1"},
        "runs_null": dict(good, runs=None),
        "no_config": dict(good, runs=[{k: v for k, v in good["runs"][0].items() if k != "config"}]),
        "no_spec": {k: v for k, v in good.items() if k != "spec"},
        "bad_length": dict(good, runs=[dict(good["runs"][0], config=dict(good["runs"][0]["config"], min_length="x"))]),
        "natural_min": {"format": "rnnbook-natural-1"},
    }
    paths = {}
    for name, data in cases.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    return paths


def test_d9_show_and_generalise_refuse_damaged_files_in_one_line(tiny_config, tmp_path, capsys):
    for name, path in _damaged_files(tiny_config, tmp_path).items():
        _refused(capsys, ["show", str(path)], "damaged")
        if name != "natural_min":
            _refused(capsys, ["generalise", str(path), "--lengths", "10"], "damaged")


def test_d9_run_refuses_a_damaged_results_or_states_file_in_one_line(tiny_config, tmp_path, capsys):
    config = tiny_config()
    assert main(_run_args(config, tmp_path)) == 0
    path = tmp_path / "tiny" / "quick.json"
    good_json, sp = path.read_bytes(), states_path(path)
    data = json.loads(good_json)
    del data["runs"][0]["config"]
    path.write_text(json.dumps(data))
    _refused(capsys, _run_args(config, tmp_path), "damaged", "runs[0] has no config")
    path.write_bytes(good_json)
    states = torch.load(sp, weights_only=True)
    for damage in ("extra_field", "null"):
        broken = json.loads(json.dumps({"format": states["format"]}))
        if damage == "null":
            broken["states"] = None
        else:
            key = next(iter(states["states"]))
            broken["states"] = {key: dict(states["states"][key], foo=1)}
        torch.save(broken, sp)
        _refused(capsys, _run_args(config, tmp_path, "--set", "max_updates=30"), "damaged")
    sp.write_bytes(b"garbage")  # not even a torch file: named, without torch's advice to load it unsafely
    line = _refused(capsys, _run_args(config, tmp_path, "--set", "max_updates=30"), "cannot read run states")
    assert "weights_only" not in line


# -- D10, D11: no leftovers; the user's umask -------------------------------------------------------


def test_d10_temporary_files_left_by_a_kill_are_removed_by_the_next_writer(tiny_config, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    stale = [folder / ".quick.json.ab12cd.tmp", folder / ".quick.states.pt.ef34gh.tmp"]
    other = folder / ".other.json.xy.tmp"  # another file's: not ours to remove
    for p in [*stale, other]:
        p.write_bytes(b"half a file")
    run_sweep(_exp(tiny_config), "quick", tmp_path)
    assert not any(p.exists() for p in stale) and other.exists()
    assert not list(folder.glob(".quick*.tmp"))


def test_d11_files_are_written_with_the_users_umask(tiny_config, tmp_path):
    old = os.umask(0o022)
    try:
        run_sweep(_exp(tiny_config), "quick", tmp_path)
    finally:
        os.umask(old)
    for p in (tmp_path / "tiny" / "quick.json", states_path(tmp_path / "tiny" / "quick.json")):
        assert p.stat().st_mode & 0o777 == 0o644, p


# -- D13: sizes and workers bounded by the machine ----------------------------------------------------


def test_d13_more_workers_than_cores_and_sizes_beyond_memory_are_refused_before_anything_is_written(
        tiny_config, tmp_path, capsys):
    from rnnbook.synthetic.workers import usable_cores

    config = tiny_config()
    _refused(capsys, _run_args(config, tmp_path, "--workers", "1000", "--limit", "0"),
                    "--workers 1000", f"use {usable_cores()} cores")
    _refused(capsys, _run_args(config, tmp_path, "--set", "hidden=1000000"), "GiB of memory",
                    "hidden=1000000")
    _refused(capsys, (_run_args(config, tmp_path, "--set", "n_valid=1000000000",
                                           "--set", "valid_chunk=1000000000")), "GiB of memory")
    assert not (tmp_path / "tiny" / "quick.json").exists()


def test_d13_the_start_line_names_the_processes_actually_started(tiny_config, tmp_path, capsys):
    from rnnbook.synthetic.workers import usable_cores

    if usable_cores() < 2:
        pytest.skip("needs two cores")
    assert main(_run_args(tiny_config(), tmp_path, "--workers", "2", "--limit", "1")) == 0
    err = capsys.readouterr().err
    assert "1 to train now" in err and "processes" not in err  # one run: one process, not "in 2 processes"


def test_migration_completes_old_natural_states_and_they_continue_bit_for_bit(tmp_path):
    """A Table 1 state saved before ``experiment``, digests, ``stopped`` and the early-stopping
    settings existed is refused in one line naming rnnbook.campaign.migrate, which completes it;
    the migrated state goes on to the same file as a run never stopped."""
    from rnnbook.campaign.migrate import migrate
    from rnnbook.natural import training as nt

    exp, cfg, data = _natural()
    whole = nt.train_natural(exp, cfg, tmp_path / "whole" / "paper.json", data=data)
    path = tmp_path / "old" / exp.name / "paper.json"
    nt.train_natural(exp, cfg, path, data=data, stop_after_updates=9)
    sp = nt.state_path(path)
    raw = torch.load(sp, weights_only=True)
    for k in ("experiment", "sha256", "stopped"):
        del raw[k]
    for k in ("patience", "min_delta"):
        del raw["config"][k]
    torch.save(raw, sp)
    with pytest.raises(ConfigError) as refused:
        nt.train_natural(exp, cfg, path, data=data)
    assert str(refused.value) == (
        f"{str(sp)!r} is a state without stopped, experiment, sha256, config.patience, config.min_delta: it was "
        f"written before the one-off migration; bring it forward with `{MIGRATE} {tmp_path / 'old'}`, then run "
        "this again")

    done = migrate(tmp_path / "old", say=lambda line: None)
    assert done[str(path)]
    new = torch.load(sp, weights_only=True)
    assert new["experiment"] == exp.name and new["sha256"] and {"patience", "min_delta"} <= set(new["config"])
    assert new["stopped"] == [0, 0, 0]
    assert migrate(tmp_path / "old", say=lambda line: None) == {str(path): []}
    went_on = nt.train_natural(exp, cfg, path, data=data)
    assert json.dumps(nt.without_provenance(went_on)) == json.dumps(nt.without_provenance(whole))
