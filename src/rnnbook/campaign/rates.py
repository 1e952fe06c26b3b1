"""The cost model: what one update of a run costs on a CPU core and on the measured GPU.

Costs are counted in *model-time-steps*: an update's sequence steps x (hidden/50)^2, so runs of
different lengths and sizes share one rate. The CPU rate is either the cost model of ``rnnbook
list`` (:data:`CPU_STEPS_PER_S`) or the rate measured in a results file's own sessions
(:func:`measured_cpu_rate`); the GPU rate is an estimate from the engine's benchmark on one lent
GPU (``benchmarks/results-cuda.json``). :mod:`rnnbook.campaign.queue` uses it to time a clean stop,
:mod:`rnnbook.campaign.ledger` to price what is left.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Any

from rnnbook.synthetic.experiments import STEPS_PER_CORE_SECOND
from rnnbook.synthetic.runs import RunConfig

CPU_STEPS_PER_S = STEPS_PER_CORE_SECOND  #: the cost model's rate (rounded down: generous time estimates)
CUDA_BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "results-cuda.json"


def steps_per_update(cfg: Any) -> float:
    """Model-time-steps of one update of run ``cfg``: its mean sequence's steps x (hidden/50)^2."""
    task = cfg.make_task()
    return task.max_steps(round((cfg.min_length + cfg.max_length) / 2)) * (cfg.hidden / 50.0) ** 2


def measured_cpu_rate(data: dict[str, Any]) -> tuple[float, float] | None:
    """(model-time-steps per core-second, core-hours) over a results file's CPU sessions, or None."""

    sessions = data.get("provenance", {}).get("sessions", [])
    if not sessions or any(s.get("device", "cpu") != "cpu" for s in sessions):
        return None
    core_s = sum((s.get("wall_time_s") or 0.0) * min(s.get("workers", 1), s["environment"].get("cpu_count") or 1)
                 for s in sessions)
    steps = sum(r["updates"] * steps_per_update(RunConfig.from_dict(r["config"])) for r in data["runs"])
    if core_s <= 0 or steps <= 0:
        return None
    return steps / core_s, core_s / 3600


def gpu_updates_per_s(ensemble: int, steps: float, omega: bool, bench: Path = CUDA_BENCHMARK) -> float:
    """Estimated model-updates per second on the benchmark's GPU for ``ensemble`` models of ``steps`` steps.

    The measured rate at T = 100 (with the regularizer if ``omega``), interpolated log-log in E
    between the measured ensemble sizes (clamped at their ends) and scaled by 100/steps.
    """
    rows = [r for r in json.loads(Path(bench).read_text(encoding="utf-8"))["rows"] if r["T"] == 100]
    rows.sort(key=lambda r: r["E"])
    key = "engine_with_reg_updates_per_s" if omega else "engine_updates_per_s"
    es = [r["E"] for r in rows]
    e = min(max(ensemble, es[0]), es[-1])
    i = min(max(bisect.bisect_left(es, e), 1), len(es) - 1)
    (e0, r0), (e1, r1) = (es[i - 1], rows[i - 1][key]), (es[i], rows[i][key])
    w = (math.log(e) - math.log(e0)) / (math.log(e1) - math.log(e0))
    rate = math.exp(math.log(r0) + w * (math.log(r1) - math.log(r0)))
    return rate * 100.0 / max(steps, 1.0)


def gpu_name(bench: Path = CUDA_BENCHMARK) -> str:
    return json.loads(Path(bench).read_text(encoding="utf-8"))["provenance"]["environment"].get("gpu", "a GPU")
