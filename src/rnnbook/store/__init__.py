"""Files on disk: atomic writes (atomic), one writer per results file (lock), saved training states
(checkpoints), JSON read with one-line errors (jsonio), and what code and machine made a file
(provenance)."""
