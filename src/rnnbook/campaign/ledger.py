"""The compute ledger: what each item of the campaign queue has cost, and what settling it would cost.

For every item of ``campaign.toml`` (:mod:`rnnbook.campaign.queue`), from the committed results files:
the updates its runs have had, the paper's budget for them (the built-in protocol's cap, 5 x 10^6
updates per run, times the runs), the updates still needed to the item's cap and to the paper's
budget (upper bounds: a run may succeed earlier), and what those would cost

- on **one CPU core**, at the rate the experiment's own sweeps ran on this project's machine:
  model-time-steps (updates x steps per sequence x (hidden/50)^2) per core-second, over every
  session in the file's provenance (wall time x worker processes). Sessions that shared the
  machine with other work were slower, so these are on the generous side. An experiment with no
  measured session uses the cost model of ``rnnbook list`` (:data:`STEPS_PER_CORE_SECOND`);
- on **one GPU**, an *estimate*: the engine's measured rate on one H200
  (``benchmarks/results-cuda.json``, the update replayed as a CUDA graph, with the regularizer for
  MSGD-CR), for an ensemble as large as the item's open runs, interpolated in E and scaled by
  100/T. Drawing the data on the device (:mod:`rnnbook.paper.streams`) has not been timed on a GPU yet.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rnnbook.campaign import queue as campaign
from rnnbook.campaign.rates import (  # noqa: F401 (the ledger's API)
    CPU_STEPS_PER_S,
    CUDA_BENCHMARK,
    gpu_name,
    gpu_updates_per_s,
    measured_cpu_rate,
    steps_per_update,
)
from rnnbook.synthetic.experiments import EXPERIMENTS, load_config

WORKERS = 2  #: cores the commands use: this project's machine has two


def paper_budget(item: Any) -> int:
    """Updates per run in the paper's protocol: the built-in experiment's (a sweeps/*.toml file may set
    a lower cap for its own step), else the config file's experiment's ``paper`` protocol."""

    table = {**(load_config(item.config) if item.config is not None else {}), **EXPERIMENTS}
    return int(table[item.experiment].protocol("paper").settings["max_updates"])


def item_row(item: Any, root: Path) -> dict[str, Any]:
    """One line of the ledger for a sweep item of the queue (see the module's docstring)."""
    results_dir = root / "results"
    st = campaign.status(item, results_dir)
    exp = campaign.resolve(item)
    configs = exp.runs(item.protocol)
    paper_cap = paper_budget(item)
    runs_to_cap = len(campaign.to_train(item, results_dir))
    records = campaign._records(item, results_dir)
    done_of = {k: r["updates"] for k, r in records.items()}
    open_now = [c for c in configs if c.key() not in records or records[c.key()]["censored"]]
    to_paper = sum(paper_cap - done_of.get(c.key(), 0) for c in open_now)
    steps = sum(steps_per_update(c) for c in open_now) / len(open_now) if open_now else 0.0
    path = campaign.results_file(item, results_dir)
    measured = measured_cpu_rate(campaign.load(path)[0]) if path.exists() else None
    cpu_rate = measured[0] if measured else CPU_STEPS_PER_S
    omega = any(c.method == "msgd_cr" for c in configs)
    gpu_rate = gpu_updates_per_s(max(1, len(open_now)), steps, omega) if open_now else math.inf
    return {
        "item": item.id, "claim": item.claim, "experiment": item.experiment, "runs": st["runs"],
        "solved": st["solved"], "diverged": st["diverged"], "open": len(open_now),
        "updates_spent": st["updates"], "paper_budget": paper_cap * st["runs"], "cap": item.max_updates,
        "to_cap": st["left"], "runs_to_cap": runs_to_cap, "to_paper": to_paper,
        "cpu_rate_source": "measured" if measured else "cost model",
        "cpu_core_hours_to_cap": st["left"] * steps / cpu_rate / 3600,
        "cpu_core_hours_to_paper": to_paper * steps / cpu_rate / 3600,
        "gpu_hours_to_paper": to_paper / gpu_rate / 3600,
        "command": command([item.id], st["left"] * steps / cpu_rate / 3600, runs_to_cap),
        "why": item.why,
        "_open": {c.key(): {"to_paper": paper_cap - done_of.get(c.key(), 0), "steps": steps_per_update(c),
                            "cpu_rate": cpu_rate, "omega": c.method == "msgd_cr"} for c in open_now},
    }


def command(items: list[str], core_hours: float, runs: int) -> str:
    """The command that trains ``items`` to the end: on up to :data:`WORKERS` cores, with a budget
    the CPU estimate fits in (whole hours; a sitting that runs short is simply run again)."""
    workers = max(1, min(WORKERS, runs))
    hours = max(1, math.ceil(core_hours / workers))
    return f"python -m rnnbook campaign --only {','.join(items)} --budget {hours}h --workers {workers}"


def claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ledger per claim: the open runs of all its items (each run once) to the paper's budget."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        c = out.setdefault(row["claim"], {"claim": row["claim"], "items": [], "_open": {}})
        c["items"].append(row["item"])
        c["_open"].update(row["_open"])
    result = []
    for c in out.values():
        runs = c.pop("_open").values()
        n = len(runs)
        to_paper = sum(r["to_paper"] for r in runs)
        steps = sum(r["steps"] for r in runs) / n if n else 0.0
        omega = any(r["omega"] for r in runs)
        cpu = sum(r["to_paper"] * r["steps"] / r["cpu_rate"] for r in runs) / 3600
        c.update(open=n, to_paper=to_paper, cpu_core_hours=cpu,
                 gpu_hours=to_paper / gpu_updates_per_s(n, steps, omega) / 3600 if n else 0.0,
                 command=command(c["items"], cpu, n))
        result.append(c)
    return result


def ledger(root: str | Path = ".", queue: str | Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The ledger's rows (sweep items whose experiment exists) and the items it cannot cost (with why)."""

    root = Path(root)
    items = campaign.load_queue(queue or root / "campaign.toml")
    rows, skipped = [], []
    for item in items:
        if item.natural:
            skipped.append(f"{item.id}: a Table 1 run (epochs, not updates); "
                           f"`python -m rnnbook campaign --only {item.id}`")
            continue
        try:
            rows.append(item_row(item, root))
        except campaign.Unavailable as exc:
            skipped.append(str(exc))
    return rows, skipped


# ---------------------------------------------------------------------------------------------
# Tables for the book's page (front/compute_ledger.ipynb)
# ---------------------------------------------------------------------------------------------


def _updates(n: float) -> str:
    return f"{n / 1e6:,.1f} M" if n >= 1e5 else f"{n:,.0f}"


def claims_frame(rows: list[dict[str, Any]]):
    """Per claim: open runs, updates still needed to the paper's budget, CPU and GPU cost, the command."""
    import pandas as pd

    return pd.DataFrame([{
        "claim": c["claim"], "queue items": ", ".join(c["items"]), "open runs": c["open"],
        "updates to the paper's budget": _updates(c["to_paper"]),
        "one CPU core (hours)": f"{c['cpu_core_hours']:,.1f}", "one GPU (hours, estimate)": f"≈ {c['gpu_hours']:,.1f}",
        "command": c["command"]} for c in claims(rows)])


def items_frame(rows: list[dict[str, Any]]):
    """Per queue item: runs and outcomes, updates spent, the paper's budget, still needed, cost to the item's cap."""
    import pandas as pd

    return pd.DataFrame([{
        "item": r["item"], "claim": r["claim"], "runs": r["runs"], "solved": r["solved"], "diverged": r["diverged"],
        "open": r["open"], "updates spent": _updates(r["updates_spent"]),
        "paper's budget": _updates(r["paper_budget"]), "cap": _updates(r["cap"]),
        "still needed to the cap": _updates(r["to_cap"]), "to the paper's budget": _updates(r["to_paper"]),
        "CPU core-hours to the cap": f"{r['cpu_core_hours_to_cap']:,.1f}",
        "CPU rate": r["cpu_rate_source"]} for r in rows])


def html(df, caption: str = "") -> str:
    """A table as static HTML (pandas Styler): no index, left-aligned text, the caption above."""
    styler = df.style.hide(axis="index").set_caption(caption).set_table_styles(
        [{"selector": "th, td", "props": "text-align: left; padding: 2px 8px;"},
         {"selector": "caption", "props": "caption-side: top; text-align: left;"}])
    return styler.to_html()
