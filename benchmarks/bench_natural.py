"""Table 1's music training: the engine's update vs a plain torch autograd loop, on the music shapes.

Run by ``make bench`` (a script, never a timed test)::

    python benchmarks/bench_natural.py            # H = 300, 400; T = 200 (~1 min)
    python benchmarks/bench_natural.py --quick    # smoke run (~15 s)

The workload is one training update of Table 1's music runs (``rnnbook.natural.training``): the three
methods MSGD, MSGD+C and MSGD+CR (E = 3 models), 88 inputs and 88 Bernoulli outputs, H sigmoid
hidden units, one 200-frame chunk of a piece (minibatch 1), float32, one torch thread:

* **engine**: ``backend.update`` of ``rnnbook.engine`` on the three models at once, with clipping
  (threshold 8) and, for MSGD+CR, Omega's term -- exactly the call the trainer makes;
* **naive**: for each of the three models in turn, the same sigmoid RNN written as a Python loop
  over time steps with ``torch`` autograd, the Bernoulli cost with
  ``binary_cross_entropy_with_logits``, ``clip_grad_norm_`` and ``torch.optim.SGD`` (no Omega: the
  naive side does less work than the engine's MSGD+CR). ``torch.nn.RNN`` has no sigmoid units; the
  "nn.RNN (tanh)" column times cuDNN-style ``torch.nn.RNN`` with tanh units on the same shapes, as
  a reference for what a library RNN of that size costs (three models in turn).

Both sides train on the same chunks, drawn once from the training split of the real data
(``rnnbook.natural.corpora.load_poly_music``) when it is there, else random 0/1 frames with 4 keys down.
Each side is timed in alternating rounds (``--rounds``) and keeps its best, so a slow spell of the
shared machine does not land on one side only. From the engine's time per update and the time to
score the splits (``rnnbook.natural.task.evaluate``, also measured) it estimates each data set's wall
time per epoch at the rates just measured (so on a loaded machine, under that load; the load
average is recorded): (training frames / 200) updates plus one scoring of the three splits.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
KEYS, T, LR, THRESHOLD = 88, 200, 1.0, 8.0


def _timeit(step, min_time: float, min_iters: int = 2, warmup: int = 1) -> float:
    """Seconds per call of ``step()`` (total time / calls over at least ``min_time``)."""
    for _ in range(warmup):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if n >= min_iters and dt >= min_time:
            return dt / n


def chunks(pool: int, seed: int = 0) -> list[np.ndarray]:
    """``pool`` chunks of ``T + 1`` frames: from Nottingham's training pieces if the data are here."""
    rng = np.random.default_rng(seed)
    try:
        from rnnbook.natural.corpora import load_poly_music

        pieces = [p for p in load_poly_music("nottingham").train if len(p) > T + 1]
        return [pieces[i][:T + 1] for i in rng.choice(len(pieces), pool)]
    except Exception:  # noqa: BLE001 -- the benchmark runs without the data too
        out = np.zeros((pool, T + 1, KEYS), np.uint8)
        for c in out:
            for row in c:
                row[rng.choice(KEYS, 4, replace=False)] = 1
        return list(out)


def engine_step_fn(H: int, data: list[np.ndarray]):
    from rnnbook.engine.backend import UpdateSettings, choose_backend
    from rnnbook.natural.task import SequenceTask, make_batch
    from rnnbook.paper.model import init_params

    task = SequenceTask.music()
    gens = [torch.Generator().manual_seed(0) for _ in range(3)]
    params = init_params("sigmoid", KEYS, H, KEYS, gens, dtype=torch.float32)
    backend = choose_backend("cpu", "sigmoid", task.readout, torch.float32)
    settings = UpdateSettings(  # MSGD, MSGD-C, MSGD-CR
        lr=torch.full((3,), LR),
        threshold=torch.tensor([float("inf"), THRESHOLD, THRESHOLD]),
        reg_weight=torch.tensor([0.0, 0.0, 0.5]),
    )
    batches = [make_batch(task, c, np.array([0]), 3, T) for c in data]
    state = {"i": 0}

    def step():
        backend.update(params, task, batches[state["i"] % len(batches)], settings)
        state["i"] += 1

    return step, backend.name


def naive_step_fn(H: int, data: list[np.ndarray]):
    """Three sigmoid RNNs, one after the other, each a Python loop over steps with autograd."""
    torch.manual_seed(0)
    models = []
    for _ in range(3):
        W_uh = (torch.randn(KEYS, H) * 0.01).requires_grad_()
        W_hh = (torch.randn(H, H) * 0.01).requires_grad_()
        b_h = torch.zeros(H, requires_grad=True)
        W_hy = (torch.randn(H, KEYS) * 0.01).requires_grad_()
        b_y = torch.zeros(KEYS, requires_grad=True)
        ps = [W_uh, W_hh, b_h, W_hy, b_y]
        models.append((ps, torch.optim.SGD(ps, lr=LR)))
    tensors = [torch.from_numpy(c.astype(np.float32)) for c in data]
    state = {"i": 0}

    def step():
        x = tensors[state["i"] % len(tensors)]
        state["i"] += 1
        for ps, opt in models:
            W_uh, W_hh, b_h, W_hy, b_y = ps
            h = torch.zeros(1, H)
            pre_in = x[:T] @ W_uh + b_h
            hs = []
            for t in range(T):
                h = torch.sigmoid(pre_in[t:t + 1] + h @ W_hh)
                hs.append(h)
            y = torch.cat(hs) @ W_hy + b_y
            loss = torch.nn.functional.binary_cross_entropy_with_logits(y, x[1:], reduction="sum") / T
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ps, THRESHOLD)
            opt.step()

    return step


def nn_rnn_step_fn(H: int, data: list[np.ndarray]):
    torch.manual_seed(0)
    models = []
    for _ in range(3):
        rnn, lin = torch.nn.RNN(KEYS, H, nonlinearity="tanh"), torch.nn.Linear(H, KEYS)
        ps = list(rnn.parameters()) + list(lin.parameters())
        models.append((rnn, lin, ps, torch.optim.SGD(ps, lr=LR)))
    tensors = [torch.from_numpy(c.astype(np.float32)) for c in data]
    state = {"i": 0}

    def step():
        x = tensors[state["i"] % len(tensors)]
        state["i"] += 1
        for rnn, lin, ps, opt in models:
            out, _ = rnn(x[:T, None])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(lin(out[:, 0]), x[1:], reduction="sum") / T
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ps, THRESHOLD)
            opt.step()

    return step


def eval_seconds_per_frame(H: int, data: list[np.ndarray], min_time: float) -> float:
    """Scoring time per frame of the three models (``rnnbook.natural.task.evaluate``, float32)."""
    from rnnbook.natural.task import SequenceTask, evaluate
    from rnnbook.paper.model import init_params

    task = SequenceTask.music()
    params = init_params("sigmoid", KEYS, H, KEYS, [torch.Generator().manual_seed(0) for _ in range(3)])
    seqs = data[:32]
    sec = _timeit(lambda: evaluate(params, "sigmoid", task, seqs, dtype=torch.float32), min_time, min_iters=1)
    return sec / sum(len(s) - 1 for s in seqs)


def epoch_estimates(H: int, update_s: float, eval_s: float) -> dict[str, dict[str, float]]:
    """Seconds per epoch of each data set trained with ``H`` units, at the measured rates."""
    from rnnbook.natural.corpora.poly_music import DATASETS, load_poly_music

    out = {}
    for name in DATASETS:
        try:
            c = load_poly_music(name)
        except Exception:  # noqa: BLE001
            continue
        frames = {s: sum(len(p) for p in getattr(c, s)) for s in ("train", "valid", "test")}
        train = frames["train"] / T * update_s
        score = sum(frames.values()) * eval_s
        out[name] = {"train_s": round(train, 1), "score_s": round(score, 1), "epoch_s": round(train + score, 1)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--H", default="300,400", help="comma-separated hidden sizes")
    ap.add_argument("--quick", action="store_true", help="smoke run (~15 s)")
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds per side (default 3, quick 1)")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per timing (default 2, quick 0.5)")
    ap.add_argument("--out", default=str(HERE / "results-natural.json"))
    args = ap.parse_args(argv)
    from rnnbook.engine.process import configure_torch

    threads = configure_torch(1)
    rounds = args.rounds or (1 if args.quick else 3)
    min_time = args.min_time or (0.5 if args.quick else 2.0)
    data = chunks(8)
    rows = []
    for H in (int(h) for h in args.H.split(",")):
        engine, backend = engine_step_fn(H, data)
        sides = {"engine": engine, "naive": naive_step_fn(H, data), "nn.RNN (tanh)": nn_rnn_step_fn(H, data)}
        best = {k: float("inf") for k in sides}
        for _ in range(rounds):
            for k, fn in sides.items():
                best[k] = min(best[k], _timeit(fn, min_time))
        eval_s = eval_seconds_per_frame(H, data, min_time)
        row = {"H": H, "T": T, "E": 3, "backend": backend,
               **{f"{k}_updates_per_s": round(1 / v, 2) for k, v in best.items()},
               "speedup_vs_naive": round(best["naive"] / best["engine"], 2),
               "speedup_vs_nn_rnn": round(best["nn.RNN (tanh)"] / best["engine"], 2),
               "eval_us_per_frame": round(eval_s * 1e6, 2),
               "epoch_estimates": epoch_estimates(H, best["engine"], eval_s)}
        rows.append(row)
        print(f"H={H}: engine ({backend}) {row['engine_updates_per_s']:.1f} updates/s of the 3 methods, "
              f"naive {row['naive_updates_per_s']:.2f}, nn.RNN (tanh) {row['nn.RNN (tanh)_updates_per_s']:.2f}: "
              f"{row['speedup_vs_naive']:.1f}x naive, {row['speedup_vs_nn_rnn']:.1f}x nn.RNN; "
              f"scoring {row['eval_us_per_frame']:.0f} us/frame", flush=True)
        for name, est in row["epoch_estimates"].items():
            print(f"   {name}: ~{est['epoch_s']:.0f} s per epoch at this rate "
                  f"({est['train_s']:.0f} s training, {est['score_s']:.0f} s scoring)", flush=True)
    from rnnbook.store.provenance import code_version, environment

    out = {"benchmark": "natural (Table 1 music)", "rows": rows,
           "provenance": {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                          "code": code_version(), "environment": environment("cpu"), "threads": threads,
                          "rounds": rounds, "min_time_s": min_time, "argv": sys.argv[1:],
                          "load_average_1_5_15": list(os.getloadavg()),
                          "note": "the machine may be shared with other work; treat differences under ~25 % as ties"}}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
