"""The declared grids and protocols, and the validation of user config files."""

import hashlib
import json
from pathlib import Path

import pytest

from rnnbook.errors import ConfigError
from rnnbook.natural import experiments as natural_experiments
from rnnbook.natural.experiments import EXPERIMENTS as NATURAL
from rnnbook.natural.task import mean_cost_settings
from rnnbook.synthetic import config_file, experiments
from rnnbook.synthetic.experiments import EXPERIMENTS, METHODS, get_experiment, load_config
from rnnbook.synthetic.runs import RunConfig

PATHOLOGICAL = {
    "addition": "add",
    "multiplication": "mul",
    "temporal_order3": "torder3",
    "permutation": "perm",
    "memorization": "mem",
    "memorization_5bit": "mem",
}


def test_temporal_order_paper_grid_is_fig7():
    exp = get_experiment("temporal_order")
    p = exp.protocol("paper")
    assert set(exp.inits) == {"sigmoid", "basic_tanh", "smart_tanh"}
    assert tuple(exp.methods) == METHODS
    assert {50, 100, 150, 200} <= set(p.lengths) and max(p.lengths) == 200
    assert len(p.seeds) == 5
    runs = exp.runs("paper")
    assert len(runs) == 3 * 3 * len(p.lengths) * 5 == exp.n_runs("paper")
    assert all(r.min_length == r.max_length for r in runs)  # fixed length per point
    assert len({r.key() for r in runs}) == len(runs)
    # grid order: init -> method -> length -> seed
    assert [r.seed for r in runs[:5]] == list(p.seeds)
    assert runs[0].init == exp.inits[0] and runs[-1].init == exp.inits[-1]


def test_paper_settings_follow_icml():
    for r in get_experiment("temporal_order").runs("paper"):
        assert (r.hidden, r.lr, r.threshold, r.reg_weight, r.batch) == (50, 0.01, 1.0, 4.0, 20)
        assert r.max_updates == 5_000_000 and r.n_valid == 10_000 and r.success_error == 0.01


def test_seeds_study_is_fig7_with_disjoint_seeds():
    """The book's extra-seeds study pools with Fig. 7: same runs but for seed, length and cap."""
    fig7, study = get_experiment("temporal_order"), get_experiment("temporal_order_seeds")
    p7, ps = fig7.protocol("paper"), study.protocol("paper")
    assert not set(p7.seeds) & set(ps.seeds) and len(ps.seeds) >= 10
    assert set(ps.lengths) <= set(p7.lengths)
    assert (study.task, tuple(study.inits), tuple(study.methods)) == (fig7.task, tuple(fig7.inits), tuple(fig7.methods))
    same = {k: v for k, v in ps.settings.items() if k != "max_updates"}
    assert same == {k: v for k, v in p7.settings.items() if k != "max_updates"}
    assert ps.settings["max_updates"] <= p7.settings["max_updates"]
    by_key = {(r.init, r.method, r.min_length, r.seed): r for r in study.runs("paper")}
    assert len(by_key) == study.n_runs("paper") == 3 * 3 * len(ps.lengths) * len(ps.seeds)


def test_mixed_length_single_model():
    exp = get_experiment("temporal_order_mixed")
    runs = exp.runs("paper")
    assert len(runs) == 5
    assert {(r.init, r.method, r.min_length, r.max_length) for r in runs} == {("basic_tanh", "msgd_cr", 50, 200)}


@pytest.mark.parametrize("name, task", PATHOLOGICAL.items())
def test_other_pathological_tasks(name, task):
    exp = get_experiment(name)
    assert exp.task == task
    runs = exp.runs("paper")
    assert {r.seed for r in runs} == set(range(5)) and all(r.max_updates == 5_000_000 for r in runs)
    if task == "mem":  # separate models at 50, 100, 150, 200
        assert sorted({r.min_length for r in runs}) == [50, 100, 150, 200]
    else:  # one model for random lengths up to 200
        assert {(r.min_length, r.max_length) for r in runs} == {(50, 200)}


def test_arxiv_only_hyper_parameters():
    (add,) = {(r.lr, r.threshold, r.reg_weight, r.hidden, r.init) for r in get_experiment("addition").runs("paper")}
    assert add == (0.01, 6.0, 0.5, 50, "basic_tanh")
    (perm,) = {(r.lr, r.threshold, r.reg_weight, r.hidden) for r in get_experiment("permutation").runs("paper")}
    assert perm == (0.001, 6.0, 1.0, 100)


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_has_both_protocols_and_quick_is_small(name):
    exp = EXPERIMENTS[name]
    assert set(exp.protocols) >= {"quick", "paper"}
    q, p = exp.protocol("quick"), exp.protocol("paper")
    assert "not the paper" in q.label.lower()
    assert q.settings["max_updates"] <= 20_000 < p.settings["max_updates"]
    assert q.settings["n_valid"] <= 2_000 and len(q.seeds) <= 3
    assert max(hi for _, hi in q.length_points) <= 30
    assert exp.worst_case("quick")["core_hours"] < 0.1  # minutes, even if every run hits its cap
    assert len(exp.runs("quick")) == exp.n_runs("quick")


def test_unknown_experiment_and_protocol():
    with pytest.raises(ConfigError, match="unknown experiment 'nope'"):
        get_experiment("nope")
    with pytest.raises(ConfigError, match="no protocol 'huge'"):
        get_experiment("temporal_order").runs("huge")


def _write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_load_toml_and_json(tmp_path):
    toml = _write(
        tmp_path,
        """
[experiments.mine]
base = "temporal_order"
inits = ["basic_tanh"]
methods = ["msgd_c", "msgd_cr"]
[experiments.mine.protocols.quick]
lengths = [20, 40]
ranges = [[10, 30]]
seeds = [0, 1, 2]
max_updates = 100
[experiments.fresh]
task = "mem"
task_params = {n_values = 2, n_pos = 5}
inits = ["smart_tanh"]
methods = ["msgd_cr"]
[experiments.fresh.protocols.smoke]
lengths = [10]
seeds = [7]
max_updates = 10
check_every = 5
""",
    )
    exps = load_config(toml)
    mine = exps["mine"]
    runs = mine.runs("quick")
    assert len(runs) == 1 * 2 * 3 * 3
    assert {r.max_updates for r in runs} == {100}
    assert {r.lr for r in runs} == {0.01}  # inherited from the built-in quick protocol
    assert "paper" in mine.protocols
    fresh = exps["fresh"].runs("smoke")
    assert len(fresh) == 1 and fresh[0].task == "mem"
    js = _write(tmp_path, json.dumps({"experiments": {"j": {"base": "addition"}}}), "c.json")
    assert load_config(js)["j"].n_runs("paper") == 5


BAD = {
    "malformed TOML": ("[experiments.x\nbase=1", "malformed TOML"),
    "unknown top key": ('foo = 1\n[experiments.x]\nbase = "addition"', "unknown key 'foo'"),
    "unknown experiment key": ('[experiments.x]\nbase = "addition"\nlearning_rate = 1', "unknown key 'learning_rate'"),
    "unknown protocol key": ('[experiments.x]\nbase = "addition"\n[experiments.x.protocols.quick]\nlrr = 1',
                             "unknown key 'lrr'"),
    "wrong type": ('[experiments.x]\nbase = "addition"\n[experiments.x.protocols.quick]\nhidden = "many"',
                   "hidden: expected an integer"),
    "bool as int": ('[experiments.x]\nbase = "addition"\n[experiments.x.protocols.quick]\nbatch = true',
                    "batch: expected an integer"),
    "unknown task": ('[experiments.x]\ntask = "sorting"\ninits = ["sigmoid"]\nmethods = ["msgd"]', "unknown task 'sorting'"),
    "unknown init": ('[experiments.x]\nbase = "addition"\ninits = ["relu"]', "unknown init 'relu'"),
    "unknown method": ('[experiments.x]\nbase = "addition"\nmethods = ["adam"]', "unknown method 'adam'"),
    "length < 2": ('[experiments.x]\nbase = "addition"\n[experiments.x.protocols.quick]\nlengths = [1]',
                   "must be >= 2"),
    "negative threshold": ('[experiments.x]\nbase = "addition"\n[experiments.x.protocols.quick]\nthreshold = -1.0',
                           "threshold: must be > 0"),
    "bad task param": ('[experiments.x]\nbase = "memorization"\ntask_params = {n_bits = 3}', "n_bits"),
    "no experiments": ("", "experiments"),
    "unknown base": ('[experiments.x]\nbase = "nope"', "unknown experiment 'nope'"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_config_files(tmp_path, case):
    text, match = BAD[case]
    with pytest.raises(ConfigError, match=match) as info:
        load_config(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_bad_config_file_kinds(tmp_path):
    with pytest.raises(ConfigError, match="malformed JSON"):
        load_config(_write(tmp_path, "{not json", "c.json"))
    with pytest.raises(ConfigError, match=".toml or .json"):
        load_config(_write(tmp_path, "x", "c.yaml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="top level"):
        load_config(_write(tmp_path, "[1, 2]", "c.json"))


def test_names_that_would_escape_the_results_folder(tmp_path):
    bad = _write(tmp_path, json.dumps({"experiments": {"../x": {"base": "addition"}}}), "c.json")
    with pytest.raises(ConfigError, match="names files"):
        load_config(bad)
    bad = _write(tmp_path, json.dumps({"experiments": {"x": {"base": "addition", "protocols": {"a/b": {}}}}}), "d.json")
    with pytest.raises(ConfigError, match="names files"):
        load_config(bad)


def test_shared_protocols_in_a_user_file(tmp_path):
    """A protocol may start from one of the file's ``protocols`` tables, or from the registry's (``paper``)."""
    path = _write(tmp_path, """
[protocols.long]
base = "quick"
max_updates = 50_000
[protocols.long.provenance]
max_updates = "mine"
[experiments.a]
task = "torder"
inits = ["basic_tanh"]
methods = ["msgd_c", "msgd_r"]
[experiments.a.protocols.quick]
base = "long"
lengths = [20]
[experiments.a.protocols.paper]
base = "paper"
lengths = [50]
[experiments.b]
base = "a"
""")
    exps = load_config(path)
    quick, paper = exps["a"].protocol("quick"), exps["a"].protocol("paper")
    assert quick.settings["max_updates"] == 50_000 and quick.settings["n_valid"] == 1_000 and quick.seeds == (0, 1)
    assert quick.provenance["max_updates"] == "mine" and quick.provenance["source"] == "user config file"
    assert paper.settings == get_experiment("temporal_order").protocol("paper").settings
    assert exps["b"].runs("paper") == exps["a"].runs("paper")  # base: an experiment earlier in the file
    with pytest.raises(ConfigError, match="unknown shared protocol 'huge'"):
        load_config(_write(tmp_path, '[experiments.x]\nbase = "addition"\n[experiments.x.protocols.quick]\n'
                                     'base = "huge"', "d.toml"))


def test_the_registry_is_read_by_the_users_loader():
    """Every built-in experiment comes from registry/*.toml through config_file, and says no "source"."""
    again = {}
    for name in experiments.REGISTRY_FILES:
        again.update(config_file.load_config(experiments.REGISTRY / name, known=again,
                                             shared=experiments.SHARED_PROTOCOLS, source=None))
    assert {n: e.to_dict() for n, e in again.items()} == {n: e.to_dict() for n, e in EXPERIMENTS.items()}
    assert not any("source" in p.provenance for e in EXPERIMENTS.values() for p in e.protocols.values())


# ---------------------------------------------------------------------------------------------
# The registry resolves to exactly the runs it always did (committed results stay resumable)
# ---------------------------------------------------------------------------------------------

SNAPSHOT = Path(__file__).parent / "data" / "experiment_keys.json"


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def registry_snapshot() -> dict:
    """Digests of every experiment, protocol (label, settings, provenance) and run key, and of every
    natural experiment. ``tests/data/experiment_keys.json`` holds them as the Python registry made
    them before the registry became TOML files; regenerate it only for a deliberate change:
    ``python -c "import json, tests.test_experiments as t; json.dump(t.registry_snapshot(), open(t.SNAPSHOT, 'w'), indent=1)"``.
    """
    snap = {"experiments": {}, "natural": {}}
    for name, e in EXPERIMENTS.items():
        d = e.to_dict()
        d.pop("protocols")
        snap["experiments"][name] = {"experiment": _sha(d), "protocols": {
            p: {"runs": e.n_runs(p), "keys": _sha([r.key() for r in e.runs(p)]),
                "protocol": _sha(e.protocol(p).to_dict()), "provenance_order": _sha(list(e.protocol(p).provenance))}
            for p in e.protocols}}
    for name, e in NATURAL.items():
        snap["natural"][name] = _sha([e.title, e.corpus, e.ahead, e.paper, list(e.sources.items()),
                                      {p: repr(c) for p, c in e.protocols.items()}])
    return snap


def test_every_run_key_label_and_provenance_is_unchanged():
    want, got = json.loads(SNAPSHOT.read_text()), registry_snapshot()
    assert list(got["experiments"]) == list(want["experiments"])  # `rnnbook list` prints them in this order
    for name, w in want["experiments"].items():
        assert got["experiments"][name] == w, name
    assert got["natural"] == want["natural"] and list(got["natural"]) == list(want["natural"])



def test_chapter_protocols_are_the_runs_the_cells_declared():
    """The live protocols of registry/live.toml are exactly the runs Chapters 3.2 and 3.3 spelled out in cells."""
    trace = dict(task="torder", init="basic_tanh", min_length=20, max_length=20, lr=0.01, threshold=1.0, batch=20,
                 hidden=50, max_updates=4000, check_every=250, n_valid=1000, valid_chunk=500)
    traces = get_experiment("clipping_traces")
    assert traces.runs("live") == [RunConfig(method=m, seed=s, **trace) for m in ("msgd", "msgd_c") for s in (0, 1, 2)]
    assert traces.runs("sweep") == [RunConfig(method=m, seed=s, **trace) for m in ("msgd", "msgd_c") for s in range(6)]
    assert get_experiment("clip_threshold_average").runs("live") == [
        RunConfig(task="torder", init="basic_tanh", method="msgd", min_length=30, max_length=30, seed=s,
                  max_updates=2000, check_every=2000, n_valid=1000, valid_chunk=500) for s in range(8)]
    assert get_experiment("omega_trajectories").runs("live") == [
        RunConfig(task="torder", init="smart_tanh", method=m, min_length=50, max_length=50, seed=s, max_updates=3000,
                  check_every=3000) for m in ("msgd_c", "msgd_cr", "msgd_r") for s in (0, 1, 2)]
    assert not set(experiments.LIVE) & set(EXPERIMENTS)  # `rnnbook list` and the campaign leave them out


def test_natural_text_settings_are_the_papers_for_the_mean_cost():
    """natural.toml states the engine's (mean-cost) values; they are the paper's summed-cost ones converted."""
    for name in ("text_next", "text_5ahead", "ptb_next", "ptb_5ahead"):
        for cfg in NATURAL[name].protocols.values():
            lrs = [mean_cost_settings(lr, 45.0, cfg.seq_len)[0] for lr in (0.001, 0.01, 0.05)]
            assert [cfg.lr_msgd, cfg.lr_msgd_c, cfg.lr_msgd_cr] == pytest.approx(lrs, rel=1e-12)
            assert cfg.threshold == pytest.approx(mean_cost_settings(0.01, 45.0, cfg.seq_len)[1], rel=1e-12)


@pytest.mark.parametrize("text, message", [
    ('[natural.x]\ntitle = "t"\ncorpus = "jsb"\nahead = 1\npaper = "p"\n[natural.x.protocols.quick]\nhidden = "many"',
     "natural.x.protocols.quick.hidden: expected an integer"),
    ('[natural.x]\ntitle = "t"\ncorpus = "jsb"\nahead = 1\npaper = "p"\n[natural.x.protocols.quick]\nbase = "nope"',
     "nope"),
    ('[natural.x]\ntitle = "t"\ncorpus = "jsb"\nahead = 1\npaper = "p"\n[natural.x.protocols.quick]\nhidden = 5',
     "missing"),
    ('[natural.x]\ncorpus = "jsb"', "needs 'title'"),
    ('[natural.x]\ntitle = "t"\nlr = 1', "unknown key 'lr'"),
])
def test_natural_declarations_are_checked(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        natural_experiments.load(path)
