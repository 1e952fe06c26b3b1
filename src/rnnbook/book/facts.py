"""The facts a chapter's prose quotes, computed from results files: what a cell glues.

A chapter page states its measurements in sentences ("40 of the 45 runs have finished, trained
to 10,000 and 100,000 updates"), and every number in them is glued from the computation
(``tests/book/test_prose_numbers.py``). The functions here compute those facts as plain values or as
dictionaries whose keys are the glue names' endings, so that a cell reads::

    glue_all(facts.sweep_status(data, planned=..., in_progress=..., paper_cap=..., methods=...), prefix="p_")

Each function says which page and which section it serves. The rules behind the facts (what
"solved" and "censored" mean, the exact intervals) live in :mod:`rnnbook.verdicts.outcomes`,
:mod:`rnnbook.verdicts.rules` (scipy's statistics) and :mod:`rnnbook.verdicts`; this module only counts and words them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnbook.book.plotting import INIT_LABELS, METHOD_LABELS, format_power
from rnnbook.natural import training as natural_training
from rnnbook.store.jsonio import format_of
from rnnbook.studies import error_clipping_outcomes, l2_study, modern, omega_study
from rnnbook.synthetic import results
from rnnbook.synthetic.experiments import AUTHORS_CODE_SETTINGS
from rnnbook.synthetic.runs import RUN_SETTINGS
from rnnbook.verdicts.outcomes import GridPoint, grid_points
from rnnbook.verdicts.records import RunRecord
from rnnbook.verdicts.rules import exact_interval

Run = Mapping[str, Any]


def shown(v) -> str:
    """A setting as the tables print it: integers with thousands separators, the rest as Python prints it."""
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def protocol_rows(protocol, runs: Iterable[Run], names: Sequence[str]) -> list[dict[str, str]]:
    """Chapter 4.1, "The protocol": per setting, what the book's runs used, what the protocol
    declares (with its source) and what the authors' code does."""
    runs = list(runs)
    rows = []
    for name in names:
        declared = protocol.settings.get(name, RUN_SETTINGS[name].default)   # not set: RunConfig's default
        book = sorted({r["config"].get(name, declared) for r in runs}) or [declared]
        code, how = AUTHORS_CODE_SETTINGS[name]
        rows.append({"setting": name, "meaning": RUN_SETTINGS[name].meaning,
                     "the book's runs": ", ".join(shown(v) for v in book),
                     "declared protocol; source": f"{shown(declared)}; {protocol.provenance.get(name, 'the book (see below)')}",
                     "the authors' code": f"{shown(code)} ({how})",
                     "differs": "yes" if any(v != code for v in book) else ""})
    rows.append({"setting": "curves", "meaning": "what the results file keeps of each run's checks",
                 "the book's runs": f"at most {results.MAX_CURVE_POINTS} checks, evenly thinned (best and final error kept as numbers)",
                 "declared protocol; source": "the book (rnnbook.synthetic.results.MAX_CURVE_POINTS)",
                 "the authors' code": "every check", "differs": "yes"})
    return rows


def tally(points: Iterable[GridPoint], **match) -> tuple[int, int, int]:
    """Successes, runs and censored runs summed over the points whose fields equal ``match``."""
    sel = [p for p in points if all(getattr(p, k) == v for k, v in match.items())]
    return sum(p.successes for p in sel), sum(p.runs for p in sel), sum(p.censored for p in sel)


def last_norm(run: Run) -> float:
    """The mean gradient norm over a run's last kept interval (NaN if none was finite)."""
    norms = [g for g in run["curves"]["grad_norm"] if g is not None and math.isfinite(g)]
    return norms[-1] if norms else math.nan


def sweep_report(data: Mapping[str, Any], planned: int, in_progress: int) -> str:
    """Chapter 4.1, "The paper's protocol": where a sweep's results file stands, in a few lines."""
    runs, sessions = data["runs"], data["provenance"]["sessions"]
    machines = sorted({f"{s['environment'].get('cpu', '?')} ({s['device']}, {s['workers']} worker(s))" for s in sessions})
    caps = sorted({r["config"]["max_updates"] for r in runs})
    return "\n".join([
        f"{len(runs)} of the {planned} runs of Fig. 7 have finished ({sum(r['success'] for r in runs)} succeeded, "
        f"{sum(r['censored'] for r in runs)} censored, {sum(r['diverged'] for r in runs)} diverged); "
        f"{in_progress} more are part-trained (checkpoints).",
        f"update caps used: {', '.join(f'{c:,}' for c in caps)}",
        f"{len(sessions)} sitting(s), {data['provenance']['total_wall_time_s'] / 3600:.2f} h of wall time, on: "
        + "; ".join(machines),
        f"code: {sessions[-1]['code']['git_commit'][:10]} (rnnbook {sessions[-1]['code']['rnnbook']})"])


def sweep_status(data: Mapping[str, Any], *, planned: int, in_progress: int, paper_cap: int,
                 methods: Sequence[str]) -> dict[str, Any]:
    """Chapter 4.1, "The paper's protocol": the sweep's progress, caps, budget and diverged runs."""
    runs = data["runs"]
    caps = sorted({r["config"]["max_updates"] for r in runs})
    present = {r["config"]["method"] for r in runs}
    diverged = [r for r in runs if r["diverged"]]
    return {
        "finished": len(runs), "planned": planned, "inprogress": in_progress,
        "caps": " and ".join(f"{c:,}" for c in caps) if caps else "none",
        "budget": " and ".join(f"{100 * c / paper_cap:.0f} %" for c in caps) if caps else "none",
        "cap_counts": "; ".join(f"{sum(r['config']['max_updates'] == c for r in runs)} runs to {c:,}" for c in caps),
        "diverged": len(diverged),
        "diverged_list": "; ".join(
            f"{INIT_LABELS[r['config']['init']]} {METHOD_LABELS[r['config']['method']]} at $T =$ {r['config']['min_length']}, "
            f"seed {r['config']['seed']}, after {r['updates']:,} updates (mean gradient norm over its last kept interval "
            f"{format_power(last_norm(r))})" for r in diverged) or "none",
        "hours": f"{data['provenance']['total_wall_time_s'] / 3600:.1f}",
        "methods": ", ".join(METHOD_LABELS[m] for m in methods if m in present) or "none",
        "missing": ", ".join(METHOD_LABELS[m] for m in methods if m not in present) or "none",
    }


def point_rows(points: Iterable[GridPoint]) -> list[dict[str, Any]]:
    """One table row per grid point: counts, the exact interval and the updates to success."""
    return [{"init": INIT_LABELS[p.init], "method": METHOD_LABELS[p.method], "T": p.length,
             "solved / runs": f"{p.successes}/{p.runs}", "censored": p.censored, "diverged": p.diverged,
             "95 % interval": f"[{p.interval[0]:.2f}, {p.interval[1]:.2f}]",
             "updates to success": ", ".join(f"{u:,}" for u in sorted(p.success_updates))} for p in points]


def clipping_gain(points: Sequence[GridPoint]) -> dict[int, tuple[int, int]]:
    """Chapter 4.1: per length, MSGD-C's solved runs minus MSGD's (the inits pooled), and MSGD-C's run count."""
    gain = {}
    for T in sorted({p.min_length for p in points}):
        k = {m: sum(p.successes for p in points if p.method == m and p.min_length == T) for m in ("msgd", "msgd_c")}
        gain[T] = (k["msgd_c"] - k["msgd"], sum(p.runs for p in points if p.method == "msgd_c" and p.min_length == T))
    return gain


def unsolved_pairs(runs: Iterable[Run], init: str = "sigmoid") -> list[dict[str, float]]:
    """Common random numbers: the best validation errors of MSGD and MSGD-C runs of one seed and
    length that both failed (a run's validation sequences come from its seed, whatever its method)."""
    flat: dict[tuple, dict[str, float]] = {}
    for r in runs:
        c = r["config"]
        if c["init"] == init and c["method"] in ("msgd", "msgd_c") and not r["success"]:
            flat.setdefault((c["min_length"], c["seed"]), {})[c["method"]] = r["best_valid_error"]
    return [v for v in flat.values() if len(v) == 2]


def interval_width(k: int, n: int) -> float:
    lo, hi = exact_interval(k, n)
    return hi - lo


def pooled_seeds(runs: Sequence[Run], more: Sequence[Run], lengths: Sequence[int], cap: int) -> list[tuple]:
    """Chapter 4.1, "More seeds": per (init, method, T) in ``lengths``, the successes within
    ``cap`` of Fig. 7's seeds alone and pooled with the extra seeds, as
    ``(init, method, T, k5, n5, k, n)``. A Fig. 7 run solved after ``cap`` counts as censored."""
    five = {(p.init, p.method, p.min_length): p for p in grid_points({"runs": runs}, cap=cap)}
    out = []
    for p in grid_points({"runs": list(runs) + list(more)}, cap=cap):
        if p.min_length in lengths:
            f = five[p.init, p.method, p.min_length]
            out.append((p.init, p.method, p.min_length, f.successes, f.runs, p.successes, p.runs))
    return out


def pooled_rows(pooled: Iterable[tuple]) -> list[dict[str, Any]]:
    """The table of :func:`pooled_seeds`: each point's two counts with their exact intervals."""
    rows = []
    for init, method, T, k5, n5, k, n in pooled:
        ci5, ci = exact_interval(k5, n5), exact_interval(k, n)
        rows.append({"init": INIT_LABELS[init], "method": METHOD_LABELS[method], "T": T,
                     "seeds 0-4": f"{k5}/{n5}", "95 % interval (seeds 0-4)": f"[{ci5[0]:.2f}, {ci5[1]:.2f}]",
                     "pooled": f"{k}/{n}", "95 % interval (pooled)": f"[{ci[0]:.2f}, {ci[1]:.2f}]"})
    return rows


def seed_study(runs: Sequence[Run], more: Sequence[Run], lengths: Sequence[int], cap: int,
               methods: Sequence[str]) -> dict[str, Any]:
    """What the extra seeds change (:func:`pooled_seeds`): how much the intervals narrow, which
    points flip from all-or-nothing to mixed, and, at the longest length over the two tanh inits,
    each method's pooled count with its interval, whether the paper's ordering clears the noise,
    and how many of the MSGD runs there stopped at the cap unsolved."""
    pooled = pooled_seeds(runs, more, lengths, cap)
    long_length = max(lengths)
    grown = [(i, m, T, k5, n5, k, n) for i, m, T, k5, n5, k, n in pooled if n > n5 and n5]
    at = {m: [sum(x) for x in zip(*[(k, n) for i, mm, T, _, _, k, n in pooled
                                    if mm == m and T == long_length and i != "sigmoid"])] for m in methods}
    ci = {m: exact_interval(*at[m]) for m in methods}
    order = ("msgd_cr", "msgd_c", "msgd")
    tanh_msgd = [p for p in grid_points({"runs": list(runs) + list(more)}, cap=cap)
                 if p.method == "msgd" and p.min_length == long_length and p.init != "sigmoid"]
    return {"pooled": pooled, "long_length": long_length,
            "narrower": [interval_width(k5, n5) - interval_width(k, n) for *_, k5, n5, k, n in grown],
            "flips": [(i, m, T) for i, m, T, k5, n5, k, n in grown if k5 in (0, n5) and 0 < k < n],
            "tanh_at": at, "ci": ci, "apart": all(ci[a][0] > ci[b][1] for a, b in zip(order, order[1:])),
            "msgd_censored": sum(p.censored for p in tanh_msgd)}


def median_text(km) -> str:
    """A Kaplan–Meier median in words: the updates, or "longer than" the follow-up when not reached."""
    return f"{km.median:,} updates" if km.median is not None else f"longer than {km.follow_up:,.0f} updates"


def mixed_summary(runs: Sequence[Run], planned: int) -> dict[str, Any]:
    """Chapter 4.1, random lengths: successes, finished and censored runs, caps and updates to success."""
    return {"k": sum(r["success"] for r in runs), "n": len(runs), "censored": sum(r["censored"] for r in runs),
            "planned": planned, "caps": sorted({r["config"]["max_updates"] for r in runs}),
            "updates": sorted(r["first_success_update"] for r in runs if r["success"])}


def mixed_summary_text(s: Mapping[str, Any]) -> str:
    caps_text = f"; caps {' and '.join(f'{x:,}' for x in s['caps'])} updates" if s["caps"] else ""
    return f"{s['k']} of {s['n']} finished runs ({s['planned']} planned; {s['censored']} censored{caps_text})"


def generalisation_rows(gen: Mapping[str, Any], lengths: Sequence[int]) -> list[dict[str, Any]]:
    """One row per tested model: its seed and its error at each fixed length (``None`` if not tested)."""
    return [{"seed": r["config"]["seed"], **{f"T={T}": r["errors"].get(str(T)) for T in lengths}} for r in gen["runs"]]


def generalisation_text(gen: Mapping[str, Any] | None, lengths: Sequence[int], trained_max: int = 200) -> str:
    """The worst error of the tested models on the trained range (lengths up to ``trained_max``) and beyond."""
    if gen is None:
        return "not tested yet"
    worst = {T: max(r["errors"][str(T)] for r in gen["runs"]) for T in lengths
             if all(str(T) in r["errors"] for r in gen["runs"])}
    inside = [T for T in worst if T <= trained_max]
    return (f"{len(gen['runs'])} model(s) tested; worst error {max(worst[T] for T in inside):.1%} on the trained range "
            f"(lengths {', '.join(map(str, inside))}) and {max(worst[T] for T in worst if T > trained_max):.1%} beyond it")


def on_range_text(judged: Sequence[Mapping[str, Any]]) -> str:
    """How many tested models are below the criterion at every trained length (``generalisation.on_training_range``)."""
    ok = [j for j in judged if j["solved"]]
    which = f" (seed{'s' if len(ok) > 1 else ''} {', '.join(str(j['seed']) for j in ok)})" if ok else ""
    worst_other = max((j["worst"] for j in judged if not j["solved"]), default=None)
    return (f"{len(ok) or 'none'} of the {len(judged)} tested models{which}, at lengths "
            f"{', '.join(map(str, judged[0]['lengths']))}"
            + (f"; the others err up to {worst_other:.1%} on one of them" if worst_other is not None else ""))


def near_chance(runs: Iterable[Run], chance: float) -> list[Run]:
    """Chapter 4.2: runs whose last check is within a tenth of the chance level (learned next to nothing)."""
    return [r for r in runs if r["final_valid_error"] is not None and r["final_valid_error"] >= 0.9 * chance]


def relapsed(run: Run) -> bool:
    """A run that got well below its final error and lost it again: its best at most half the final
    error and at least ten points below it."""
    return (run["final_valid_error"] is not None
            and run["final_valid_error"] >= max(2 * run["best_valid_error"], run["best_valid_error"] + 0.1))


def solved_within(experiment: str, runs: Iterable[Run], cap: int) -> int:
    """How many of these stored runs succeeded within ``cap`` updates (:meth:`RunRecord.solved_by`)."""
    return sum(RunRecord.from_dict(experiment, r).solved_by(cap) for r in runs)


def best_within(runs: Iterable[Run], cap: int) -> list[float]:
    """Each run's best kept check within ``cap`` updates. The stored curves are thinned, so this is
    the best of the kept checks: an upper bound on the run's best error by then."""
    return [min(e for u, e in zip(r["curves"]["update"], r["curves"]["valid_error"]) if u <= cap and e is not None)
            for r in runs]


def compute_costs(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """front/rerun, "What a re-run costs": per ``results/*/paper.json``, the finished runs, their
    updates, the core-hours they took and the throughput, with the machines and the last date.

    Two tables, because the two kinds of results file count differently: the synthetic sweeps
    (runs, time steps per core-second, every worker counted; the stored studies of Chapters 3 and 4.4
    join them (:data:`STUDIES`), the modern baseline's LSTM rows slower per step) and Table 1's natural runs (epochs, frames or characters
    per core-second, each seen by three models)."""
    rows, natural_rows = [], []
    for path in sorted((Path(root) / "results").glob("*/paper.json")):
        if format_of(path) == natural_training.FORMAT:  # Table 1's runs: epochs, not a grid
            data = natural_training.json_of(path)
            sessions, s = data["provenance"]["sessions"], data["protocol"]["settings"]
            core_s = sum(x.get("wall_time_s") or 0.0 for x in sessions)
            updates = data["epochs_done"] * data["updates_per_epoch"] + data["position"]
            items = updates * s["seq_len"] * s["batch"]
            natural_rows.append({"Table 1 runs (3 methods each)": path.parent.name, "epochs": data["epochs_done"],
                                 "updates": updates, "core-h": core_s / 3600,
                                 "items/core-s": items / core_s if core_s else 0.0, **_machines(sessions)})
            continue
        if format_of(path) in STUDIES:  # the studies beside the paper's protocol: one worker
            runs, core_s, sessions = _study_runs(path)
            if runs and core_s > 0:
                rows.append({"experiment (paper protocol)": path.parent.name, "runs": len(runs),
                             "updates": sum(r["updates"] for r in runs), "core-h": core_s / 3600,
                             "steps/core-s": sum(r["updates"] * r["length"] for r in runs) / core_s,
                             **_machines(sessions)})
            continue
        data = results.load_results(path)
        sessions = data["provenance"]["sessions"]
        core_s = sum((x.get("wall_time_s") or 0.0) * x.get("workers", 1) for x in sessions)
        if not data["runs"] or core_s <= 0:
            continue
        steps = sum(r["updates"] * (r["config"]["min_length"] + r["config"]["max_length"]) / 2 for r in data["runs"])
        rows.append({"experiment (paper protocol)": path.parent.name, "runs": len(data["runs"]),
                     "updates": sum(r["updates"] for r in data["runs"]), "core-h": core_s / 3600,
                     "steps/core-s": steps / core_s, **_machines(sessions)})
    return rows, natural_rows


#: The stored studies the cost table counts beside the sweeps, by file format: each module says
#: through its ``cost_runs`` which runs (with ``updates`` and ``length``) and how many core-seconds.
STUDIES = {m.FORMAT: m for m in (modern, omega_study, l2_study, error_clipping_outcomes)}


def study_rows(root: Path) -> list[dict[str, Any]]:
    """front/rerun, "The stored studies": per study of :data:`STUDIES`, what it is (its module's first
    line), the command that makes or continues it, its file and the runs stored there."""
    rows = []
    for study in STUDIES.values():
        path = study.results_path(Path(root) / "results", "paper")
        runs = len(study.cost_runs(study.read_study(path))[0]) if path.exists() else 0
        rows.append({"study": (study.__doc__ or "").strip().splitlines()[0].rstrip(".").replace("``", ""),
                     "command": study.COMMAND, "file": str(path.relative_to(root)), "runs stored": runs})
    return rows


def _study_runs(path: Path) -> tuple[list[dict[str, Any]], float, list[dict[str, Any]]]:
    """A study file's runs (each with ``updates`` and ``length``), the core-seconds they took, its sessions."""
    study = STUDIES[format_of(path)]
    data = study.read_study(path)
    return (*study.cost_runs(data), data["sessions"])


def _machines(sessions) -> dict[str, str]:
    cpus = sorted({x["environment"].get("cpu", "?") for x in sessions})
    return {"machine, date": f"{'; '.join(cpus)}, {max(x.get('ended') or x.get('started') for x in sessions)[:10]}"}


__all__ = ["best_within", "clipping_gain", "compute_costs", "study_rows", "generalisation_rows", "generalisation_text", "interval_width", "last_norm",
           "median_text", "mixed_summary", "mixed_summary_text", "near_chance", "on_range_text", "relapsed", "solved_within", "point_rows", "pooled_rows",
           "pooled_seeds", "protocol_rows", "seed_study", "shown", "sweep_report", "sweep_status", "tally",
           "unsolved_pairs"]
