"""The fast engine: trains ensembles of the paper's RNN, many models as one computation.

    backend      which code computes an ensemble's passes, chosen once (choose_backend)
    update       one training update (UpdateSettings): a pass, clipping, an SGD step
    batched      the batched explicit BPTT in torch (a GPU's, and a CPU's without a compiler)
    cpu_kernel   the same pass compiled from csrc/ (a CPU's)
    cuda_graphs  an update recorded once and replayed on a GPU
    workspace    reused scratch memory

Everything here computes what :mod:`rnnbook.paper.reference` writes out readably, and is tested against
it in float64 (tests/unit/test_reference.py); :mod:`rnnbook.synthetic.training` runs ensembles with it.
"""

import importlib

_EXPORTS = {
    "Backend": "backend", "CompiledBackend": "backend", "CudaGraphBackend": "backend", "TorchBackend": "backend",
    "choose_backend": "backend", "UpdateSettings": "update", "UpdateStats": "update", "sgd_step_": "update",
    "sgd_update_": "update",
}
__all__ = [*_EXPORTS, "batched", "cpu_kernel", "cuda_graphs", "workspace"]


def __getattr__(name: str):
    # Loaded on first use, so that importing one leaf (rnnbook.engine.workspace, which
    # rnnbook.engine.omega needs) does not pull in the whole engine, which needs the regularizer.
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"rnnbook.engine.{_EXPORTS[name]}"), name)
    if name in ("backend", "batched", "cpu_kernel", "cuda_graphs", "update", "workspace"):
        return importlib.import_module(f"rnnbook.engine.{name}")
    raise AttributeError(f"module 'rnnbook.engine' has no attribute {name!r}")
