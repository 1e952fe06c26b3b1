"""Files on disk: atomic writes (atomic), one writer per results file (lock), saved training states
(checkpoints), JSON read with one-line errors (jsonio), what code and machine made a file
(provenance), and the one-line refusal of a file from before the one-off migration (outdated)."""
