"""Runs of the paper's six synthetic problems (Chapters 4.1-4.2): what defines a run (runs), the
experiments declared as data (spec, config_file, experiments; the TOML files in ../registry), the
one training loop (training) and what it records (traces, validation), processes (workers), results
files (results, results_file), sweeps over several sittings (sweeps), and solved models tested on
other lengths (generalisation)."""
