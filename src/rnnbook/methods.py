"""The paper's training methods, declared once: what each does to a gradient (ICML §4, §8.1).

Every path that trains — the synthetic ensemble, single-run trajectories, traces, Table 1's
natural-data pipeline — asks this table whether a method clips at its threshold and whether it
adds the regularizer Omega, instead of spelling out lists of method names:

>>> METHOD["msgd_cr"].clips, METHOD["msgd_cr"].omega
(True, True)
>>> METHOD["msgd"].threshold(1.0), METHOD["msgd_c"].reg_weight(4.0)
(inf, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Method:
    """One training method: plain minibatch SGD, optionally with clipping and with Omega."""

    name: str
    label: str
    clips: bool  # rescale the gradient to the threshold when its norm exceeds it (Algorithm 1)
    omega: bool  # add alpha * Omega (Eq. 9) to the cost

    def threshold(self, threshold: float) -> float:
        """The clipping threshold this method applies: ``threshold``, or infinity if it does not clip."""
        return threshold if self.clips else math.inf

    def reg_weight(self, reg_weight: float) -> float:
        """The weight of Omega this method applies: ``reg_weight``, or 0 if it does not use Omega."""
        return reg_weight if self.omega else 0.0


METHOD = {m.name: m for m in (
    Method("msgd", "MSGD", clips=False, omega=False),
    Method("msgd_c", "MSGD-C", clips=True, omega=False),
    Method("msgd_cr", "MSGD-CR", clips=True, omega=True),
    # Not one of the paper's three: Omega without clipping (ICML footnote 4 says it usually
    # fails through exploding gradients; Chapter 3.3 tests it).
    Method("msgd_r", "MSGD-R", clips=False, omega=True),
)}

#: The paper's three methods, in its order (Fig. 7, Table 1).
METHODS = ("msgd", "msgd_c", "msgd_cr")
#: Accepted by a run's configuration, kept out of the paper's three.
EXTRA_METHODS = ("msgd_r",)
#: Floating-point types a run may use, by the name configurations give them.
DTYPES = {"float32": torch.float32, "float64": torch.float64}
