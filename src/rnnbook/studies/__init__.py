"""Studies beside the paper's protocol (Chapter 3): single-run trajectories with L2 or element-wise
clipping and Mikolov's per-step error clipping (baselines), and an LSTM on the same task (lstm)."""
