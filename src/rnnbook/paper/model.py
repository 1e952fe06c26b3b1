"""The vanilla RNN of the paper: its weights, for many models at once, and three initialisations.

Model (the authors' code, row-vector convention; back/paper_in_numbers.ipynb, pn-code)::

    h_t = act(h_{t-1} W_hh + u_t W_uh + b_h),   h_0 = 0,   y_t = h_t W_hy + b_y.

With the pre-activation ``x_t := h_{t-1} W_hh + u_t W_uh + b_h`` this is exactly the paper's
Eq. (2), ``x_t = W_rec act(x_{t-1}) + W_in u_t + b`` in column vectors, with
``W_rec = W_hh^T`` and ``W_in = W_uh^T`` (footnote 1 of §1.1: the two forms are equivalent).
:class:`Params` holds the weights of ``E`` independent models along a leading axis. The readable
version of the network and its update is :mod:`rnnbook.paper.reference`; the fast engine that trains
ensembles is :mod:`rnnbook.engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields

import torch

from rnnbook.errors import check_at_least, check_choice

INITS = ("sigmoid", "basic_tanh", "smart_tanh")
ACTIVATIONS = ("sigmoid", "tanh")
INIT_VARIANTS = ("paper", "code")
SMART_TANH_NONZEROS = 15  # non-zero recurrent weights per unit (§4.1.1; back/paper_in_numbers.ipynb, pn-fig7)
SMART_TANH_RADIUS = 0.95  # spectral radius of W_hh after the rescaling


def activation_of(init: str) -> str:
    """The unit non-linearity an initialisation goes with: ``"sigmoid"`` or ``"tanh"``."""
    check_choice("init", init, INITS)
    return "sigmoid" if init == "sigmoid" else "tanh"


def activate(x: torch.Tensor, act: str) -> torch.Tensor:
    """The unit non-linearity ``sigma(x)``: the logistic sigmoid or tanh (the engine's in-place version
    is :func:`rnnbook.engine.batched._activate_`; the chapters' reference model writes it out again)."""
    return torch.sigmoid(x) if act == "sigmoid" else torch.tanh(x)


def derivative_from_output(h: torch.Tensor, act: str) -> torch.Tensor:
    """``sigma'`` at a unit, from its output ``h = sigma(x)``: ``1 - h^2`` (tanh), ``h (1 - h)`` (sigmoid)."""
    check_choice("activation", act, ACTIVATIONS)
    return 1 - h.square() if act == "tanh" else h * (1 - h)


@dataclass
class Params:
    """The weights of ``E`` independent RNNs; the first axis of every tensor is the model.

    ``W_uh (E, n_in, H)``, ``W_hh (E, H, H)``, ``b_h (E, H)``, ``W_hy (E, H, n_out)``,
    ``b_y (E, n_out)``. Gradients are returned in the same structure.
    """

    W_uh: torch.Tensor
    W_hh: torch.Tensor
    b_h: torch.Tensor
    W_hy: torch.Tensor
    b_y: torch.Tensor

    @property
    def n_models(self) -> int:
        return self.W_hh.shape[0]

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The five tensors, in field order."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def items(self) -> Iterator[tuple[str, torch.Tensor]]:
        """``(name, tensor)`` pairs, in field order."""
        return ((f.name, getattr(self, f.name)) for f in fields(self))

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Params:
        """A new :class:`Params` with ``fn`` applied to every tensor."""
        return Params(*(fn(t) for t in self.tensors()))

    def clone(self) -> Params:
        return self.map(torch.clone)

    def select(self, idx: torch.Tensor | Sequence[int]) -> Params:
        """The models ``idx`` (a copy), in that order."""
        index = torch.as_tensor(idx, dtype=torch.long, device=self.W_hh.device)
        return self.map(lambda t: t.index_select(0, index))

    @staticmethod
    def cat(parts: Sequence[Params]) -> Params:
        """Stack the models of several :class:`Params` along the model axis."""
        return Params(*(torch.cat(ts) for ts in zip(*(p.tensors() for p in parts))))

    def set_model_(self, slot: int, other: Params) -> None:
        """Overwrite model ``slot`` in place with the single model held by ``other``."""
        for mine, theirs in zip(self.tensors(), other.tensors()):
            mine[slot] = theirs[0]

    def is_finite(self) -> torch.Tensor:
        """``(E,)`` bool: True where every weight of the model is finite."""
        ok = torch.ones(self.n_models, dtype=torch.bool, device=self.W_hh.device)
        for t in self.tensors():
            ok &= torch.isfinite(t).flatten(1).all(1)
        return ok


def init_params(
    init: str,
    n_in: int,
    n_hidden: int,
    n_out: int,
    gens: Sequence[torch.Generator],
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    variant: str = "paper",
) -> Params:
    """Draw ``E = len(gens)`` models, model ``e`` from ``gens[e]`` only (§4.1.1; paper in numbers: pn-fig7).

    * ``sigmoid``: ``W_uh, W_hh, W_hy ~ N(0, 0.01^2)`` (the code's ``scale=.01`` is a standard
      deviation);
    * ``basic_tanh``: the same with standard deviation 0.1;
    * ``smart_tanh``: ``W_uh, W_hy`` with standard deviation 0.01; ``W_hh`` sparse with 15
      non-zero weights per unit (``min(15, H)`` when ``H < 15``), then rescaled to spectral
      radius 0.95;
    * biases 0.

    ``variant`` only matters for smart tanh. ``"paper"`` (the default) keeps 15 *incoming*
    connections per unit, as the paper says; in the row-vector convention unit ``j``'s
    incoming weights are column ``j`` of ``W_hh``. ``"code"`` keeps 15 non-zeros per *row*, as
    the authors' code does, which are the *outgoing* weights (back/errata.md, err-smart-tanh). The
    default follows the paper because the book reproduces the paper; the rescaling makes the
    two equally scaled (a transpose does not change the spectrum).

    Weights are drawn in float64 and then cast, so float32 and float64 runs with the same
    generators start from the same point.
    """
    check_choice("init", init, INITS)
    check_choice("init variant", variant, INIT_VARIANTS)
    for what, value in (("n_in", n_in), ("hidden", n_hidden), ("n_out", n_out)):
        check_at_least(what, value, 1)
    std = 0.1 if init == "basic_tanh" else 0.01
    models = []
    for gen in gens:
        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.float64) * std

        W_uh = normal(n_in, n_hidden)
        W_hh = normal(n_hidden, n_hidden)
        if init == "smart_tanh":
            W_hh = _sparse_rescaled(W_hh, gen, incoming=(variant == "paper"))
        W_hy = normal(n_hidden, n_out)
        models.append((W_uh, W_hh, torch.zeros(n_hidden, dtype=torch.float64), W_hy, torch.zeros(n_out, dtype=torch.float64)))
    return Params(*(torch.stack(ts).to(dtype=dtype, device=device) for ts in zip(*models)))


def _sparse_rescaled(W_hh: torch.Tensor, gen: torch.Generator, *, incoming: bool) -> torch.Tensor:
    """Keep ``SMART_TANH_NONZEROS`` random entries per column (incoming) or row, rescale to radius 0.95."""
    n = W_hh.shape[0]
    k = min(SMART_TANH_NONZEROS, n)
    dim = 0 if incoming else 1
    chosen = torch.rand(n, n, generator=gen).argsort(dim=dim).narrow(dim, 0, k)
    mask = torch.zeros(n, n, dtype=torch.bool).scatter_(dim, chosen, True)
    W_hh = W_hh * mask
    radius = torch.linalg.eigvals(W_hh).abs().max()
    return SMART_TANH_RADIUS * W_hh / radius


def check_activation(act: str) -> None:
    check_choice("activation", act, ACTIVATIONS)
