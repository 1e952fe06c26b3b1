"""Shared code of the book *On the difficulty of training recurrent neural networks*, reproduced.

The folders follow the book, foundations first; a module imports only from its own folder or from
folders above it in this drawing (``tests/unit/test_layers.py`` checks it)::

    errors settings methods   the vocabulary: one-line errors, declared settings, the three methods
    paper/                    the paper written to be read (Chapters 1-3):
        model tasks streams       ... the RNN and its initialisations; the six problems of §4.1; their random numbers
        reference                 ... one training update, top to bottom: Eqs. 1-2, 9-10, Algorithm 1
        gradients                 ... Eqs. 3-7 as code
        dynamics                  ... the one-unit network of §2.2-2.3: one_unit (the map), bistability
                                      (fixed points, bifurcations, basins), boundaries (Figs. 4-5), surface (Fig. 6)
        diagrams                  ... Figs. 1-2 drawn from code
    engine/                   the fast engine: many models at once, clipping and Omega inside
        backend update            ... which code computes the pass; one training update (UpdateSettings)
        batched readout           ... batched torch BPTT; the read-out and its cost
        cpu_kernel                ... the same pass compiled for a CPU (csrc/)
        cuda_graphs workspace     ... an update recorded for a GPU; reused scratch memory
        clipping omega omega_exact ... Algorithm 1; Omega (Eqs. 9-10); Omega differentiated exactly
        process                   ... torch's threads, denormals flushed, every generator seeded
    store/                    files on disk: atomic writes, locks, saved states, JSON, provenance
    synthetic/                the six problems' runs (Chapter 4.1-4.2):
        runs experiments          ... what defines a run; experiments declared as data (registry/*.toml)
        training traces workers   ... the one training loop (hooks); its per-update recorder; processes
        validation                ... the one validation function (chunks of fresh sequences)
        results sweeps            ... results files; sweeps over several sittings
        generalisation            ... solved models on other lengths
    natural/                  Table 1's problems (Chapter 4.3): task, experiments, data, state, training by epochs, results; corpora/
    studies/                  studies beside the paper's protocol: trajectories, an LSTM, Ω, a modern baseline
    verdicts/                 what the results say: outcomes, stats, survival, the claims registry, scoreboard, table1
    book/                     presentation: plotting, display (tables, glue), interactive figures, runtime, pdf
    campaign/                 the compute campaign: its queue, GPU transfer, cost rates, the ledger
    cli/                      python -m rnnbook: the parser and one module per group of commands
    registry/                 (data, not code) every experiment declared in TOML, each value beside its source

Follow one setting through the layers, e.g. the clipping threshold of
``python -m rnnbook run temporal_order --set threshold=2``: the ``run`` command (:func:`rnnbook.cli.synthetic.cmd_run`)
→ :func:`rnnbook.synthetic.spec.with_overrides` (validated against the setting's declaration in
:class:`~rnnbook.synthetic.runs.RunConfig`) → :meth:`~rnnbook.synthetic.spec.Experiment.runs` (one
``RunConfig`` per run) → ``RunConfig.effective_threshold`` (infinity unless the method clips:
:data:`rnnbook.methods.METHOD`) → :class:`rnnbook.synthetic.training.Ensemble` (one
:class:`~rnnbook.engine.update.UpdateSettings` for all its members) → ``Backend.update``
(:mod:`rnnbook.engine.backend`) → :func:`rnnbook.engine.update.sgd_update_` →
:func:`rnnbook.engine.clipping.clip_grad_norm_` (Algorithm 1; :func:`rnnbook.paper.reference.clip`
is the same rule written to be read).
"""

__version__ = "0.1.0"
