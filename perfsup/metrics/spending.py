"""Group-sequential alpha spending: how much false-keep risk each look may spend.

A decision looks at its pairs several times and may keep at any look. Testing
every look at the full alpha would keep noise far more often than alpha;
splitting alpha evenly (Bonferroni, rule v2) is safe but wasteful, because the
looks are strongly correlated (look 2 contains every pair of look 1).

Lan and DeMets (1983) spend alpha as a function of the information fraction
t = pairs / max_pairs: by look k the cumulative false-keep probability is
alpha(t_k). Two classic spending functions are offered:

- "pocock" (Lan-DeMets Pocock-type): alpha * ln(1 + (e - 1) t), spends early,
  so every look -- the first included -- can keep;
- "obrien-fleming" (Lan-DeMets O'Brien-Fleming-type): 2 - 2 Phi(z_{1-alpha/2} /
  sqrt(t)), spends almost nothing early and nearly all of alpha at the end.

The boundary z_k of each look solves P(no crossing before k, crossing at k) =
alpha(t_k) - alpha(t_{k-1}) for the canonical joint distribution of the
standardised statistics (a Brownian motion observed at t_1 < t_2 < ...;
Jennison and Turnbull, "Group Sequential Methods", 2000, ch. 7 and 19), by the
usual recursive numerical integration of Armitage, McPherson and Rowe (1969)
on a grid, with SciPy's normal distribution functions and root finder. The nominal
one-sided level of look k is 1 - Phi(z_k); the signed-rank p-value of that look
is compared with it. The exact signed-rank test is discrete, so the real level
is at most the nominal. Futility stops are not part of the computation
(non-binding): stopping for futility only lowers the false-keep rate.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np

# SciPy is imported inside the functions that compute: it costs ~70 MB and ~0.6 s
# at import, and the TUI and `status` only read verdicts through this module.

Spending = Literal["pocock", "obrien-fleming"]


def spent(kind: Spending, alpha: float, t: float) -> float:
    """Cumulative alpha spent by information fraction `t` (0 < t <= 1)."""
    t = min(max(t, 0.0), 1.0)
    if t == 0.0:
        return 0.0
    if kind == "pocock":
        return alpha * math.log(1.0 + (math.e - 1.0) * t)
    from scipy.special import ndtr, ndtri

    return float(2.0 - 2.0 * ndtr(ndtri(1.0 - alpha / 2.0) / math.sqrt(t)))


@lru_cache(maxsize=64)
def nominal_levels(looks: tuple[int, ...], alpha: float, kind: Spending) -> tuple[float, ...]:
    """The nominal one-sided level of every look of a plan that ends at looks[-1]."""
    from scipy.optimize import brentq
    from scipy.special import ndtr, ndtri

    fractions = [n / looks[-1] for n in looks]
    grid = np.arange(-10.0, 10.0, _STEP)  # values of the Brownian motion B(t)
    density = np.zeros_like(grid)  # of B(t_{k-1}) on paths that have not crossed yet
    levels: list[float] = []
    previous_t = previous_spent = 0.0
    for k, t in enumerate(fractions):
        budget = spent(kind, alpha, t) - previous_spent
        previous_spent += budget
        sd = math.sqrt(t - previous_t)
        if k == 0:
            bound = float(-ndtri(budget)) * sd
        else:
            bound = float(brentq(_crossing, -10.0, 10.0, args=(grid, density, sd, budget)))
        # density of B(t_k) on paths still below every boundary so far
        if k == 0:
            density = _pdf(grid / sd) / sd
        else:
            kernel = _pdf((grid[:, None] - grid[None, :]) / sd) / sd
            density = kernel @ density * _STEP
        density = np.where(grid < bound, density, 0.0)
        levels.append(float(ndtr(-bound / math.sqrt(t))))
        previous_t = t
    return tuple(levels)


_STEP = 0.02


def _crossing(c: float, grid: np.ndarray, density: np.ndarray, sd: float, budget: float) -> float:
    """P(cross c now | not crossed before) minus the alpha this look may spend."""
    from scipy.special import ndtr  # the normal CDF as a plain ufunc: norm.sf costs 10x more

    return float(np.sum(density * ndtr((grid - c) / sd)) * _STEP) - budget


def _pdf(z: np.ndarray) -> np.ndarray:
    """The standard normal density (scipy.stats.norm.pdf without its per-call checks)."""
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
