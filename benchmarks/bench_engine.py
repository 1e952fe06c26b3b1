"""Training throughput of rnnbook's batched engine vs a naive per-model torch.nn.RNN loop.

Run by ``make bench`` (a script, never a timed test)::

    python benchmarks/bench_engine.py                 # E = 1, 32, 128; T = 100, 200 (~1-2 min)
    python benchmarks/bench_engine.py --quick         # smoke run (~20 s)
    python benchmarks/bench_engine.py --device cuda --E 1,32,128,1024

The workload is one training update of the temporal-order task (6 inputs, 4 classes, softmax at
the last step), 50 tanh hidden units, minibatch 20, float32, for E independent models:

* **engine**: ``rnnbook.engine.batched.loss_and_grads`` + ``rnnbook.engine.clipping.clip_grad_norm_``
  (threshold 1) + ``rnnbook.synthetic.training.sgd_step_`` (lr 0.01) on all E models at once, with a
  reused ``Workspace`` -- the per-update work of ``rnnbook.synthetic.training`` without validation and
  without its per-check statistics (MSGD-C; the "+reg" column adds the regularizer, i.e.
  MSGD-CR). On a CPU the pass runs in the compiled kernel (``rnnbook.engine.cpu_kernel``) where it
  builds, as training does; the "torch path" columns time the same update by the batched
  torch code (``TorchBackend``) in the same alternating rounds;
* **naive**: for each model in a Python loop, ``torch.nn.RNN(6, 50, nonlinearity="tanh")`` + a
  ``Linear(50, 4)`` read-out, cross-entropy, autograd, ``torch.nn.utils.clip_grad_norm_``,
  ``torch.optim.SGD`` step. The loop is sequential per model, so at large E it is timed over a
  few updates per model and the aggregate rate is (updates done) / (time taken).

Both sides train on the same minibatches (a small pool drawn once from ``rnnbook.paper.tasks`` and
cycled), so data generation is outside both timings. Each row times the two sides in alternating
rounds (``--rounds``, default 3, each >= ``--min-time`` seconds) and keeps each side's best
round, so that a slow spell of a shared machine does not land on one side only. The
"engine+sample" column adds the engine's own per-update sampling, as ``train_runs`` does it.
One torch thread (``--threads``).

FLOPs per update and model, counted analytically from the dense matmuls only (B = batch 20,
H = 50 hidden, I = 6 inputs, O = 4 outputs, T steps; elementwise work and the sampling are not
counted)::

    forward   per step  2BH^2 (h W_hh) + 2BHI (u W_uh)         ; read-out once 2BHO
    backward  per step  2BH^2 (delta W_hh^T) + 2BH^2 (grad W_hh) + 2BHI (grad W_uh)
                                                                ; read-out once 2*2BHO
    total     F = T (6BH^2 + 4BHI) + 6BHO        (T = 100: 32.4 MFLOP)

The machine's reference rates: a batched matmul of the recurrent step's shape,
E x (20x50 @ 50x50), and a 1024^3 (CPU) / 4096^3 (CUDA) matmul. The engine's fraction is its
achieved GFLOP/s over the same-shape batched-matmul rate at the same E.

On a GPU (``--device cuda``, default E = 1, 32, 128, 1024) the engine's update is recorded once
as a CUDA graph and replayed (``rnnbook.engine.cuda_graphs.CapturedUpdate``), as the engine issue asks;
the "eager" column times the same update launched kernel by kernel, and ``--no-graph`` makes
the eager update the headline. The naive side there is cuDNN's ``nn.RNN``. TF32 is switched off
so that float32 means float32.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
N_IN, N_OUT, HIDDEN, BATCH, LR, THRESHOLD = 6, 4, 50, 20, 0.01, 1.0


def flops_per_update(T: int, B: int = BATCH, H: int = HIDDEN, I: int = N_IN, O: int = N_OUT) -> int:
    return T * (6 * B * H * H + 4 * B * H * I) + 6 * B * H * O


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timeit(step, device: str, min_time: float, min_iters: int = 3, warmup: int = 2) -> tuple[float, int]:
    """Seconds per call of ``step()`` (median-free: total time / calls over >= min_time)."""
    for _ in range(warmup):
        step()
    _sync(device)
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        if n >= min_iters:
            _sync(device)
            dt = time.perf_counter() - t0
            if dt >= min_time:
                return dt / n, n


# ------------------------------------------------------------------------------------------------
# Reference matmul rates
# ------------------------------------------------------------------------------------------------


def bmm_gflops(E: int, device: str, min_time: float) -> float:
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(E, BATCH, HIDDEN, generator=g).to(device)
    b = torch.randn(E, HIDDEN, HIDDEN, generator=g).to(device)
    out = torch.empty(E, BATCH, HIDDEN, device=device)
    reps = 50

    def step():
        for _ in range(reps):
            torch.bmm(a, b, out=out)

    sec, _ = _timeit(step, device, min_time)
    return 2.0 * E * BATCH * HIDDEN * HIDDEN * reps / sec / 1e9


def big_matmul_gflops(device: str, min_time: float) -> tuple[int, float]:
    n = 4096 if device.startswith("cuda") else 1024
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device)
    b = torch.randn(n, n, generator=g).to(device)
    out = torch.empty(n, n, device=device)
    sec, _ = _timeit(lambda: torch.mm(a, b, out=out), device, min_time, min_iters=2, warmup=1)
    return n, 2.0 * n**3 / sec / 1e9


# ------------------------------------------------------------------------------------------------
# The two sides
# ------------------------------------------------------------------------------------------------


def make_data(E: int, T: int, device: str, pool: int, seed: int = 0):
    from rnnbook.paper.streams import Stream
    from rnnbook.paper.tasks import get_task

    task = get_task("torder")
    streams = [Stream(seed * 100_003 + e) for e in range(E)]
    batches = [task.sample(streams, BATCH, [T] * E, device=device) for _ in range(pool)]
    return task, streams, batches


def engine_step_fn(E: int, T: int, device: str, task, streams, batches, reg_weight: float | None, sample: bool,
                   graph: bool = False, defer: bool | None = None, kernel: str | None = None):
    """One batched update of E models, as ``rnnbook.synthetic.training`` does it (without validation).

    The backend is chosen as training chooses it (``rnnbook.engine.choose_backend``), except:
    ``graph``: replay the update as a CUDA graph (``rnnbook.engine.cuda_graphs.CapturedUpdate``);
    ``defer``: the torch backend's ``defer_weight_grads`` (None: the device's default);
    ``kernel``: ``"torch"`` or ``"compiled"`` (None: the compiled CPU kernel where it applies).
    """
    from rnnbook.engine import TorchBackend, UpdateSettings, choose_backend
    from rnnbook.engine.cuda_graphs import CapturedUpdate
    from rnnbook.paper.model import activation_of, init_params

    init = "basic_tanh"
    gens = [torch.Generator().manual_seed(s.seed) for s in streams]
    params = init_params(init, N_IN, HIDDEN, N_OUT, gens, dtype=torch.float32, device=device)
    act = activation_of(init)
    settings = UpdateSettings(
        lr=torch.full((E,), LR, device=device),
        threshold=torch.full((E,), THRESHOLD, device=device),
        reg_weight=None if reg_weight is None else torch.full((E,), reg_weight, device=device),
    )
    state = {"i": 0}
    if graph or defer is not None:
        backend = TorchBackend(act, device, defer_weight_grads=defer)
    else:
        backend = choose_backend(device, act, task.readout, torch.float32, kernel=kernel)
    if graph:
        update = CapturedUpdate(params, backend, task, batches[0], settings)
    else:
        def update(batch):
            backend.update(params, task, batch, settings)

    def step():
        if sample:
            batch = task.sample(streams, BATCH, [T] * E, device=device)
        else:
            batch = batches[state["i"] % len(batches)]
            state["i"] += 1
        update(batch)

    return step


def naive_step_fn(E: int, T: int, device: str, batches, seed: int = 0):
    torch.manual_seed(seed)
    models = []
    for _ in range(E):
        rnn = torch.nn.RNN(N_IN, HIDDEN, nonlinearity="tanh").to(device)
        lin = torch.nn.Linear(HIDDEN, N_OUT).to(device)
        ps = list(rnn.parameters()) + list(lin.parameters())
        models.append((rnn, lin, ps, torch.optim.SGD(ps, lr=LR)))
    # per model: its own slice of the same minibatches the engine sees, time-major (T, B, I)
    data = [
        [(b.u[e].contiguous(), b.target[e].reshape(-1).long().contiguous()) for e in range(E)] for b in batches
    ]
    state = {"i": 0, "m": 0}

    def one_update():
        """One update of one model (models and minibatches taken in turn)."""
        m = state["m"]
        rnn, lin, ps, opt = models[m]
        u, y = data[state["i"] % len(data)][m]
        out, _ = rnn(u)
        loss = torch.nn.functional.cross_entropy(lin(out[-1]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ps, THRESHOLD)
        opt.step()
        state["m"] = (m + 1) % E
        if state["m"] == 0:
            state["i"] += 1

    return one_update


# ------------------------------------------------------------------------------------------------


def provenance(device: str, threads: int) -> dict:
    import numpy

    import rnnbook
    from rnnbook.store.provenance import code_version, environment

    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "code": code_version(),
        "environment": environment(device),
        "threads": threads,
        "flush_denormal": True,
        "rnnbook": rnnbook.__version__,
        "numpy": numpy.__version__,
        "argv": sys.argv[1:],
        "note": "the machine may be shared with other work; treat differences under ~25 % as ties",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--E", default=None, help="comma-separated ensemble sizes (default 1,32,128; cuda 1,32,128,1024)")
    ap.add_argument("--no-graph", action="store_true", help="cuda: time the eager update as the engine (no CUDA graph)")
    ap.add_argument("--T", default="100,200", help="comma-separated sequence lengths")
    ap.add_argument("--quick", action="store_true", help="smoke run: short timings (~20 s)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=None, help="seconds per timing (default 1, quick 0.3)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="alternating engine/naive timings per row; the best of each side counts (default 3, quick 1)")
    ap.add_argument("--no-extras", action="store_true", help="skip the engine+sample and engine+reg columns")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    args = ap.parse_args(argv)

    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_engine: error: --device cuda requested but CUDA is not available", file=sys.stderr)
        return 2
    from rnnbook.engine.process import configure_torch

    threads = configure_torch(args.threads)
    from rnnbook.engine import cpu_kernel
    from rnnbook.engine.batched import DEFER_WEIGHT_GRADS

    # on a CPU the engine trains with the compiled kernel where it builds; the torch path is timed beside it
    torch_path = not device.startswith("cuda") and cpu_kernel.enabled()

    other_defer = not DEFER_WEIGHT_GRADS["cuda"]  # on a GPU, also time the other way to form the weight gradients
    defer_key = f"engine_defer_{other_defer}_updates_per_s"

    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    cuda = device.startswith("cuda")
    graph = cuda and not args.no_graph
    Es = [int(x) for x in (args.E or ("1,32,128,1024" if cuda else "1,32,128")).split(",") if x]
    Ts = [int(x) for x in args.T.split(",") if x]
    min_time = args.min_time if args.min_time is not None else (0.3 if args.quick else 1.0)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1 or min_time <= 0:
        print("bench_engine: error: --rounds must be >= 1 and --min-time > 0", file=sys.stderr)
        return 2
    extras = not args.no_extras and not args.quick
    t_start = time.perf_counter()
    rows: list[dict] = []
    prov = provenance(device, threads)  # before the first write, which would make the checkout "dirty"

    def write_results(partial: bool) -> dict:
        """The results file; rewritten after every row, so an interrupted run keeps its rows."""
        # the headline: E = 128 at T = 100 on a CPU; on a GPU the largest E (1024) at T = 100
        key = None if cuda else next((r for r in rows if r["E"] == 128 and r["T"] == 100), None)
        if key is None:  # GPU, or other --E/--T: report the largest E at the smallest T done
            key = max(rows, key=lambda r: (-r["T"], r["E"]))
        out = {
            "benchmark": "engine vs naive torch.nn.RNN loop, temporal order, H=50, B=20, float32",
            "provenance": prov,
            "settings": {"hidden": HIDDEN, "batch": BATCH, "n_in": N_IN, "n_out": N_OUT, "lr": LR,
                         "threshold": THRESHOLD, "init": "basic_tanh", "E": Es, "T": Ts, "quick": args.quick,
                         "min_time_s": min_time, "rounds": rounds, "cuda_graphs": graph,
                         "cpu_kernel": None if cuda else cpu_kernel.status(),
                         "defer_weight_grads": DEFER_WEIGHT_GRADS.get(device.split(":")[0], False)},
            "flops_formula": "T*(6*B*H^2 + 4*B*H*I) + 6*B*H*O per update and model (dense matmuls only)",
            "matmul": {"big_n": big_n, "big_gflops": big,
                       "bmm_same_shape_gflops": {str(k): v for k, v in bmm.items()}},
            "rows": rows,
            "partial": partial,
            "wall_time_s": time.perf_counter() - t_start,
            "speedup_vs_naive": {"E": key["E"], "T": key["T"], "ratio": key["speedup"]},
        }
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        return out

    big_n, big = big_matmul_gflops(device, min_time)
    bmm = {E: bmm_gflops(E, device, min_time) for E in Es}
    print(f"device {device} | torch {torch.__version__} | threads {threads} | "
          f"matmul {big_n}^3: {big:.1f} GFLOP/s", flush=True)
    print("batched matmul E x (20x50 @ 50x50): " + ", ".join(f"E={E}: {v:.1f}" for E, v in bmm.items())
          + " GFLOP/s", flush=True)

    for T in Ts:
        for E in Es:
            task, streams, batches = make_data(E, T, device, pool=4)
            engine_step = engine_step_fn(E, T, device, task, streams, batches, None, False, graph)
            # naive: at least a couple of updates per model, at least min_time
            naive_step = naive_step_fn(E, T, device, batches)
            per_model = 1 if (args.quick and E > 8) else 2

            def naive_round():
                for _ in range(E):
                    naive_step()

            def time_naive() -> tuple[float, int]:
                """Seconds per model update, and updates timed."""
                if E > 8:  # a round of E updates is long enough to time on its own
                    sec, n = _timeit(naive_round, device, min_time, min_iters=per_model, warmup=1)
                    return sec / E, n * E
                return _timeit(naive_step, device, min_time, min_iters=5)

            # The two sides alternate, and each keeps its best round: a shared machine's slow
            # spells then hit both sides alike instead of whichever happened to run during one.
            torch_step = (engine_step_fn(E, T, device, task, streams, batches, None, False, kernel="torch")
                          if torch_path else None)
            sec_e, sec_n, sec_t, n_e, naive_updates = math.inf, math.inf, math.inf, 0, 0
            for _ in range(rounds):
                sec, n = _timeit(engine_step, device, min_time)
                sec_e, n_e = min(sec_e, sec), n_e + n
                if torch_step is not None:
                    sec_t = min(sec_t, _timeit(torch_step, device, min_time)[0])
                sec, n = time_naive()
                sec_n, naive_updates = min(sec_n, sec), naive_updates + n
            engine, naive = E / sec_e, 1.0 / sec_n
            f = flops_per_update(T)
            row = {
                "T": T,
                "E": E,
                "naive_updates_per_s": naive,
                "naive_updates_timed": naive_updates,
                "engine_updates_per_s": engine,
                "engine_updates_timed": n_e * E,
                "rounds": rounds,
                "speedup": engine / naive,
                "flops_per_update": f,
                "engine_gflops": engine * f / 1e9,
                "naive_gflops": naive * f / 1e9,
                "bmm_gflops_same_shape": bmm[E],
                "engine_fraction_of_bmm": engine * f / 1e9 / bmm[E],
            }
            if torch_step is not None:  # the same update by the batched torch code (rnnbook.paper.model)
                row["engine_torch_path_updates_per_s"] = E / sec_t
                row["torch_path_speedup"] = E / sec_t / naive
            if extras:
                sec_s, _ = _timeit(engine_step_fn(E, T, device, task, streams, batches, None, True, graph), device, min_time)
                sec_r, _ = _timeit(engine_step_fn(E, T, device, task, streams, batches, 4.0, False, graph), device, min_time)
                row["engine_with_sampling_updates_per_s"] = E / sec_s
                row["engine_with_reg_updates_per_s"] = E / sec_r
            if graph:  # the same update without the graph, one launch at a time
                sec_g, _ = _timeit(engine_step_fn(E, T, device, task, streams, batches, None, False), device, min_time)
                row["engine_eager_updates_per_s"] = E / sec_g
            if cuda:  # the weight gradients the other way round (model.DEFER_WEIGHT_GRADS)
                sec_d, _ = _timeit(engine_step_fn(E, T, device, task, streams, batches, None, False, graph, other_defer),
                                   device, min_time)
                row[defer_key] = E / sec_d
            rows.append(row)
            write_results(partial=True)
            print(
                f"T={T:4d} E={E:5d}  naive {naive:9.1f}/s  engine {engine:10.1f}/s  x{engine / naive:6.1f}  "
                f"{row['engine_gflops']:6.1f} GFLOP/s ({100 * row['engine_fraction_of_bmm']:4.1f} % of bmm)"
                + (f"  torch path {row['engine_torch_path_updates_per_s']:9.1f}/s" if torch_path else "")
                + (f"  +sample {row['engine_with_sampling_updates_per_s']:9.1f}/s"
                   f"  +reg {row['engine_with_reg_updates_per_s']:9.1f}/s" if extras else "")
                + (f"  eager {row['engine_eager_updates_per_s']:10.1f}/s" if graph else "")
                + (f"  defer={other_defer} {row[defer_key]:10.1f}/s" if cuda else ""),
                flush=True,
            )

    # the table
    head = ["T", "E", "naive upd/s", "engine upd/s", "speedup", "engine GFLOP/s", "% of bmm"]
    if torch_path:
        head += ["torch path upd/s", "its speedup"]
    if extras:
        head += ["engine+sample upd/s", "engine+reg upd/s"]
    if graph:
        head += ["engine eager upd/s"]
    if cuda:
        head += [f"defer={other_defer} upd/s"]
    lines = []
    for r in rows:
        cells = [str(r["T"]), str(r["E"]), f"{r['naive_updates_per_s']:.1f}", f"{r['engine_updates_per_s']:.1f}",
                 f"{r['speedup']:.1f}x", f"{r['engine_gflops']:.1f}", f"{100 * r['engine_fraction_of_bmm']:.1f}"]
        if torch_path:
            cells += [f"{r['engine_torch_path_updates_per_s']:.1f}", f"{r['torch_path_speedup']:.1f}x"]
        if extras:
            cells += [f"{r['engine_with_sampling_updates_per_s']:.1f}", f"{r['engine_with_reg_updates_per_s']:.1f}"]
        if graph:
            cells += [f"{r['engine_eager_updates_per_s']:.1f}"]
        if cuda:
            cells += [f"{r[defer_key]:.1f}"]
        lines.append(cells)
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    print()
    print(" | ".join(h.rjust(w) for h, w in zip(head, widths)))
    print("-+-".join("-" * w for w in widths))
    for cells in lines:
        print(" | ".join(c.rjust(w) for c, w in zip(cells, widths)))
    print(f"\nFLOPs per update = T(6BH^2 + 4BHI) + 6BHO (B=20, H=50, I=6, O=4); "
          f"matmul {big_n}^3: {big:.1f} GFLOP/s; {time.perf_counter() - t_start:.0f} s in all")

    key = write_results(partial=False)["speedup_vs_naive"]
    print(f"wrote {args.out}")
    print(f"speedup_vs_naive: {key['ratio']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
