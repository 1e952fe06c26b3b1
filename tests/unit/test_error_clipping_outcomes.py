"""Chapter 3.1's outcome study of Mikolov's error clipping: the engine's option, the study, its verdict."""

import json

import pytest
import torch

from rnnbook.engine import batched
from rnnbook.paper import reference as R
from rnnbook.paper.model import activation_of, init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import get_task
from rnnbook.studies import error_clipping_outcomes as ec
from rnnbook.verdicts import claims
from rnnbook.verdicts.evidence_studies import ErrorClipAlike
from rnnbook.verdicts.rules import alike_verdict, combine_points, fewest_discordant, mcnemar_p

torch.set_num_threads(1)
LENGTHS = (10, 14, 12)  # three models, left-padded to a common length
ENGINE_NAMES = {"W_rec": "W_hh", "W_in": "W_uh", "b": "b_h", "W_out": "W_hy", "b_out": "b_y"}
S, C, D = "solved", "censored", "diverged"


def setup(task_name, init):
    task = get_task(task_name, **({"n_values": 2, "n_pos": 3} if task_name == "mem" else {}))
    gens = [torch.Generator().manual_seed(e) for e in range(len(LENGTHS))]
    params = init_params(init, task.n_in, 16, task.n_out, gens, dtype=torch.float64)
    noise = torch.Generator().manual_seed(99)  # away from the tiny initial weights: larger errors
    params = params.map(lambda t: t + 0.3 * torch.randn(t.shape, generator=noise, dtype=t.dtype))
    batch = task.sample([Stream(e) for e in range(len(LENGTHS))], 5, list(LENGTHS), dtype=torch.float64)
    return task, params, batch


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


@pytest.mark.parametrize("task_name", ["torder", "add", "mem"])  # last-step, real-valued and per-step read-outs
@pytest.mark.parametrize("init", ["basic_tanh", "sigmoid"])
@pytest.mark.parametrize("defer", [False, True])
@pytest.mark.parametrize("cutoff", [3e-4, 1e-3])
def test_error_clip_equals_reference(task_name, init, defer, cutoff):
    """The engine's clamped BPTT is the reference's (float64), model by model, and it says where it acted."""
    task, params, batch = setup(task_name, init)
    act = activation_of(init)
    got = batched.loss_and_grads(params, act, task, batch, keep_states=False, group_size=2,
                                 defer_weight_grads=defer, error_clip=cutoff)
    acted = 0
    for e in range(len(LENGTHS)):
        net, u, target = R.from_engine(params, batch, e, act)
        loss, grads, clamped = R.loss_and_grads_error_clipped(net, u, target, task.readout, cutoff)
        assert rel_err(got.loss[e], loss) < 1e-12
        for name, g in grads.items():
            assert rel_err(getattr(got.grads, ENGINE_NAMES[name])[e], g.T if g.dim() == 2 else g) < 1e-12, (e, name)
        assert (clamped > 0) == bool(got.error_max[e] > cutoff)
        acted += clamped > 0
    assert acted  # the cutoffs are small enough to act


def test_huge_cutoff_is_the_exact_gradient():
    """A cutoff no error reaches changes nothing: the same bits as the pass without the option."""
    task, params, batch = setup("torder", "basic_tanh")
    plain = batched.loss_and_grads(params, "tanh", task, batch, keep_states=False)
    clipped = batched.loss_and_grads(params, "tanh", task, batch, keep_states=False, error_clip=1e30)
    assert plain.error_max is None and bool((clipped.error_max < 1e30).all())
    for a, b in zip(plain.grads.tensors(), clipped.grads.tensors()):
        assert torch.equal(a, b)


def _runs(study):
    return {(g["arm"], g["length"]): [{k: v for k, v in r.items() if k != "wall_time_s"} for r in g["runs"]]
            for g in study["groups"]}


def test_quick_study_resumes_bit_for_bit(tmp_path):
    """Groups written in two sittings are the groups of one sitting; a third sitting adds nothing."""
    whole = ec.run_study("quick", tmp_path / "a", say=lambda s: None)
    ec.run_study("quick", tmp_path / "b", lengths=[10], say=lambda s: None)
    first = ec.read_study(ec.results_path(tmp_path / "b", "quick"))
    assert {(g["arm"], g["length"]) for g in first["groups"]} == {("error_clip", 10), ("norm_clip", 10)}
    resumed = ec.run_study("quick", tmp_path / "b", say=lambda s: None)
    assert _runs(resumed) == _runs(whole) and len(resumed["sessions"]) == 2
    again = ec.run_study("quick", tmp_path / "b", say=lambda s: None)
    assert _runs(again) == _runs(whole) and again["sessions"][-1]["groups"] == []
    for g in whole["groups"]:
        assert g["backend"] == ("torch_error_clip" if g["arm"] == "error_clip" else g["backend"])
        for r in g["runs"]:
            assert r["outcome"] in (S, C, D) and 0.0 <= r["clip_fraction"] <= 1.0
            assert (r["first_success_update"] is not None) == (r["outcome"] == S)
    assert any(r["clip_fraction"] > 0 for g in whole["groups"] if g["arm"] == "error_clip" for r in g["runs"])
    assert ec.pairs(whole, 10)[0][0]["arm"] == "error_clip"


def test_mcnemar():
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(6, 0) == pytest.approx(2 / 64) and mcnemar_p(5, 0) == pytest.approx(2 / 32)
    assert fewest_discordant() == 6


@pytest.mark.parametrize("pairs, word", [
    ([(S, S)] * 10, "uninformative"),  # no discordant pair: McNemar could not have rejected
    ([(S, D)] * 5 + [(D, D)] * 5, "uninformative"),  # 5 discordant: even 5-0 gives p = 0.0625
    ([(C, C)] * 10, "uninformative"),  # everything censored: nothing to compare within the cap
    ([(S, D)] * 6 + [(D, D)] * 4, "not reproduced"),  # 6-0, p = 0.031
    ([(S, D)] * 3 + [(D, S)] * 3 + [(S, S)] * 4, "consistent"),  # 3-3 could have been 6-0
    ([(S, C)] * 6 + [(D, D)] * 4, "open"),  # the censored runs decide: 6-0 or no discordant pair at all
    ([(S, C)] * 2 + [(D, D)] * 8, "uninformative"),  # whichever way the censored runs end, at most 2 discordant
    ([(S, D)] * 7 + [(S, C)] * 3, "not reproduced"),  # 7-0 already, the censored ones can only add
])
def test_alike_rule(pairs, word):
    assert alike_verdict("T", pairs).verdict == word


def test_open_point_keeps_the_pooled_claim_open():
    open_point = alike_verdict("T = 50", [(S, C)] * 6 + [(D, D)] * 4)
    assert (open_point.if_none, open_point.if_all) == ("not reproduced", "uninformative")
    assert combine_points([open_point, alike_verdict("T = 100", [(C, C)] * 10)])[0] == "open"
    consistent = alike_verdict("T = 50", [(S, D)] * 3 + [(D, S)] * 3 + [(S, S)] * 4)
    assert combine_points([consistent, alike_verdict("T = 100", [(C, C)] * 10)])[0] == "consistent"
    assert combine_points([alike_verdict("a", [(C, C)] * 10)] * 2)[0] == "uninformative"


def _study_file(root, outcomes_by_length):
    """A hand-made paper study: ``outcomes_by_length[T] = [(error_clip outcome, norm_clip outcome), ...]``."""
    spec = dict(ec.PROTOCOLS["paper"], lengths=sorted(outcomes_by_length))
    groups = []
    for length, outcomes in outcomes_by_length.items():
        for i, arm in enumerate(ec.ARMS):
            runs = [{"arm": arm, "length": length, "seed": s, "outcome": o[i], "clip_fraction": 0.1,
                     "first_success_update": 2000 if o[i] == S else None} for s, o in enumerate(outcomes)]
            groups.append({"arm": arm, "length": length, "runs": runs})
    path = ec.results_path(root / "results", "paper")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": ec.FORMAT, "protocol": "paper", "study": ec.STUDY, "spec": spec,
                                "groups": groups, "sessions": []}))


def test_claim_reads_the_study(tmp_path):
    assert ErrorClipAlike().judge(tmp_path, {}).verdict == "not run"
    _study_file(tmp_path, {50: [(S, D)] * 3 + [(D, S)] * 3 + [(S, S)] * 4, 100: [(C, C)] * 10})
    v = claims.judge("elementwise", tmp_path)
    assert v.verdict == "consistent" and len(v.points) == 2 and v.cap_fraction.startswith("2 %")
    assert v.points[0]["error clip: solved / censored / diverged"] == "7 / 0 / 3"
    assert [p["verdict"] for p in v.points] == ["consistent", "uninformative"]
