"""The command line: `list`, `run`, `show`, bad input (exit 2, one line), Ctrl-C (exit 130), SIGTERM (143)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from rnnbook.cli import main
from rnnbook.synthetic import training
from rnnbook.synthetic.results import strip_volatile


def _err_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rnnbook: error: ") and "Traceback" not in err
    return lines[0]


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "temporal_order" in out and "quick" in out and "paper" in out
    row = next(line for line in out.splitlines() if line.startswith("temporal_order ") and " paper " in line)
    assert " 225 " in row  # 3 inits x 3 methods x 5 lengths x 5 seeds


def test_list_with_config(tiny_config, capsys):
    assert main(["list", "--config", str(tiny_config())]) == 0
    assert "tiny *" in capsys.readouterr().out


def _config(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


BASE = '[experiments.x]\nbase = "temporal_order"\n'


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "no_such_experiment"], "unknown experiment 'no_such_experiment'"),
        (["run", "temporal_order", "--protocol", "huge"], "no protocol 'huge'"),
        (["run", "temporal_order", "--max-parallel", "0"], "--max-parallel"),
        (["run", "temporal_order", "--workers", "0"], "--workers"),
        (["run", "temporal_order", "--device", "tpu"], "unknown device 'tpu'"),
        (["run", "temporal_order", "--cuda-graph"], "--cuda-graph needs --device cuda"),
        (["run", "temporal_order", "--config", "CFG:" + BASE + 'task = "sorting"'], "unknown task 'sorting'"),
        (["run", "temporal_order", "--config", "CFG:" + BASE + 'inits = ["relu"]'], "unknown init 'relu'"),
        (["run", "x", "--config", "CFG:" + BASE + "[experiments.x.protocols.quick]\nlengths = [1]"], ">= 2"),
        (["run", "x", "--config", "CFG:" + BASE + "[experiments.x.protocols.quick]\nthreshold = -1.0"],
         "threshold: must be > 0"),
        (["run", "x", "--config", "CFG:[experiments.x\n"], "malformed TOML"),
        (["run", "x", "--config", "/no/such/file.toml"], "cannot read config file"),
        (["show", "/no/such/results.json"], "cannot read results file"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, needle):
    args = [_config(tmp_path, a[4:]) if a.startswith("CFG:") else a for a in args]
    assert main(args) == 2
    assert needle in _err_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_unavailable(capsys):
    assert main(["run", "temporal_order", "--device", "cuda"]) == 2
    assert "CUDA is not available" in _err_line(capsys)


def test_bad_input_via_subprocess(tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run(
        [sys.executable, "-m", "rnnbook", "run", "no_such_experiment", "--results-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "unknown experiment" in p.stderr
    assert "Traceback" not in p.stderr


def test_run_then_show(tiny_config, tmp_path, capsys):
    out = tmp_path / "res"
    args = ["run", "tiny", "--config", str(tiny_config()), "--results-dir", str(out), "--no-progress"]
    assert main(args) == 0
    path = out / "tiny" / "quick.json"
    assert json.loads(path.read_text())["completed"] == 8
    assert main(args) == 0  # nothing left to do
    assert "0 to train now" in capsys.readouterr().err
    assert main(["show", str(path)]) == 0
    assert "8 of 8 runs" in capsys.readouterr().out


def test_ctrl_c_keeps_finished_runs_and_says_how_to_resume(tiny_config, tmp_path, capsys, monkeypatch):
    real = training.train_runs

    def interrupted(runs, *, on_result, **kw):
        def once(result):
            on_result(result)
            raise KeyboardInterrupt  # as if Ctrl-C arrived right after the first run finished

        return real(runs, on_result=once, **kw)

    monkeypatch.setattr(training, "train_runs", interrupted)
    out = tmp_path / "res"
    args = ["run", "tiny", "--config", str(tiny_config()), "--results-dir", str(out)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "Resume with: python -m rnnbook run tiny" in err
    assert json.loads((out / "tiny" / "quick.json").read_text())["completed"] == 1
    monkeypatch.undo()
    assert main([*args, "--no-progress"]) == 0
    assert json.loads((out / "tiny" / "quick.json").read_text())["completed"] == 8


@pytest.mark.slow
def test_two_worker_processes_write_the_same_file(tiny_config, tmp_path):
    """``--workers 2`` (two spawned processes, through ``python -m``) changes no number in the file."""
    cfg = str(tiny_config())
    assert main(["run", "tiny", "--config", cfg, "--results-dir", str(tmp_path / "one"), "--no-progress"]) == 0
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run(
        [sys.executable, "-m", "rnnbook", "run", "tiny", "--config", cfg, "--results-dir", str(tmp_path / "two"),
         "--workers", "2", "--no-progress"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "in 2 processes" in p.stderr
    one, two = (json.loads((tmp_path / d / "tiny" / "quick.json").read_text()) for d in ("one", "two"))
    assert two["completed"] == 8 and two["provenance"]["sessions"][0]["workers"] == 2
    assert strip_volatile(one) == strip_volatile(two)


def _children(pid):
    path = f"/proc/{pid}/task/{pid}/children"
    with open(path) as fh:
        return [int(c) for c in fh.read().split()]


def _gone(pids, within=15.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and "Z" not in _state(p)]
        if not alive:
            return True
        time.sleep(0.2)
    return False


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc (Linux)")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_killed_sweep_leaves_no_worker_running(tiny_config, tmp_path, how):
    """SIGTERM: workers stopped, file saved, exit 143. SIGKILL: the workers notice and exit."""
    cfg = str(tiny_config(max_updates=1_000_000, check_every=50, success_error=0.0))  # never finishes
    out = tmp_path / "res"
    p = subprocess.Popen(
        [sys.executable, "-m", "rnnbook", "run", "tiny", "--config", cfg, "--results-dir", str(out),
         "--workers", "2", "--no-progress"],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    try:
        deadline = time.monotonic() + 60
        while len(_children(p.pid)) < 2 and time.monotonic() < deadline:  # both workers started
            time.sleep(0.2)
        time.sleep(2.0)  # ... and training
        workers = _children(p.pid)
        assert len(workers) >= 2 and p.poll() is None
        p.send_signal(getattr(signal, how))
        _, err = p.communicate(timeout=60)
        assert _gone(workers), f"workers still running after {how}"
        if how == "SIGTERM":
            assert p.returncode == 143, err
            assert "terminated; every finished run is saved" in err and "Traceback" not in err
            session = json.loads((out / "tiny" / "quick.json").read_text())["provenance"]["sessions"][-1]
            assert session["interrupted"] is True
        else:
            assert p.returncode == -signal.SIGKILL
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.parametrize("command", [["run", "temporal_order"], ["natural", "music_jsb"], ["campaign", "--budget", "1m"]])
@pytest.mark.parametrize("option, needle", [(["--threads", "0"], "argument --threads: expected an integer >= 1"),
                                            (["--checkpoint-every", "0"], "--checkpoint-every must be > 0 seconds")])
def test_the_shared_options_are_checked_alike(tmp_path, capsys, command, option, needle):
    """``run``, ``natural`` and ``campaign`` take their common options from one declaration."""
    assert main([*command, *option, "--results-dir", str(tmp_path)]) == 2
    assert needle in _err_line(capsys)


def test_help_starts_without_torch():
    """The commands import training code inside themselves, so ``--help`` does not load torch."""
    code = ("import contextlib, io, sys\nfrom rnnbook.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    for argv in ([], ['run'], ['natural'], ['campaign']):\n"
            "        try:\n            main([*argv, '--help'])\n        except SystemExit:\n            pass\n"
            "assert 'torch' not in sys.modules, 'torch imported by --help'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
