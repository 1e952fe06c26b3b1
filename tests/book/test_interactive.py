"""The data of the interactive figures (rnnbook.book.interactive) equal what rnnbook computes directly.

The browser test (tests/book/test_browser.py) moves the controls of the built pages; these tests check
the Python side: every value a figure can show is the one rnnbook.paper.dynamics / rnnbook.verdicts.outcomes
give for that setting, and the HTML fragment is self-contained (no URL it would fetch).
"""

from __future__ import annotations

import base64
import io
import json
import math
import re

import numpy as np
import pytest

from rnnbook.book import interactive as I
from rnnbook.paper import dynamics as D
from rnnbook.verdicts.outcomes import grid_points


def test_pack_round_trips_float32_with_nan():
    a = np.array([[1.5, -2.25, np.nan], [1e-3, 3.0e7, 0.0]])
    back = I.unpack(I.pack(a))
    assert back.shape == a.shape
    assert np.array_equal(np.isnan(back), np.isnan(a))
    assert np.allclose(back[~np.isnan(a)], a[~np.isnan(a)].astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Fig. 3
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bif():
    return I.bifurcation_data(b_range=(-3.0, -2.0), b_step=0.05, start_step=0.5, basin_step=0.25, T=600)


def test_bifurcation_fixed_points_and_stability_are_dynamics(bif):
    b = np.array(bif["b"])
    assert np.allclose(np.diff(b), 0.05) and b[0] == -3.0 and b[-1] == -2.0
    fp = D.fixed_points(bif["w"], b)
    got = np.array([[np.nan if v is None else v for v in row] for row in bif["fixed"]])
    assert np.array_equal(np.isnan(got), np.isnan(fp)) and np.allclose(got[~np.isnan(fp)], fp[~np.isnan(fp)])
    for row, srow in zip(fp, bif["stable"]):
        assert srow == [bool(np.isfinite(x) and abs(D.multiplier(x, bif["w"])) < 1) for x in row]
    bp = D.bifurcation_points(bif["w"])
    assert bif["bif"] == {"b_1": bp.b_1, "b_2": bp.b_2, "x_1": bp.x_1, "x_2": bp.x_2}
    # three fixed points exactly inside the bistable window
    three = np.sum(~np.isnan(got), axis=1) == 3
    assert np.array_equal(three, (b > bp.b_2) & (b < bp.b_1))


def test_bifurcation_paths_give_the_cobweb_of_dynamics(bif):
    paths = I.unpack(bif["paths"])                     # (b, start, step)
    n = bif["cobweb_steps"]
    assert paths.shape == (len(bif["b"]), len(bif["starts"]), n + 1)
    for i in (0, 7, len(bif["b"]) - 1):
        for j in (0, 5, len(bif["starts"]) - 1):
            cx, cy = D.cobweb(bif["starts"][j], bif["w"], bif["b"][i], n)
            p = paths[i, j]
            # the page draws (p0, p0), (p0, p1), (p1, p1), ... (widgets.js, bifurcation())
            web_x = np.r_[np.repeat(p[:-1], 2), p[-1]]
            web_y = np.r_[np.c_[p[:-1], p[1:]].ravel(), p[-1]]
            assert np.allclose(web_x, cx, atol=1e-5) and np.allclose(web_y, cy, atol=1e-5)


def test_bifurcation_basins_are_the_sides_of_the_boundary(bif):
    b, x0 = np.array(bif["b"]), np.array(bif["basin_x0"])
    codes = np.array([[int(c) for c in row] for row in bif["basins"]])
    assert codes.shape == (len(b), len(x0))
    boundary = D.basin_boundary(bif["w"], b)
    att = D.attractors(bif["w"], b)
    for i in range(len(b)):
        if np.isfinite(boundary[i]):            # bistable: below the boundary low, above high
            expect = np.where(x0 < boundary[i], I.BASIN_LOW, I.BASIN_HIGH)
            on = np.isclose(x0, boundary[i], atol=1e-12)
            assert np.array_equal(codes[i][~on], expect[~on]), b[i]
            assert np.all(codes[i][on] == I.BASIN_NONE)
        else:                                   # one attractor: every start falls to it
            assert np.all(codes[i] == (I.BASIN_LOW if np.isfinite(att[i, 0]) else I.BASIN_HIGH)), b[i]
    # b = -2.5 has its boundary exactly at 0, which is on the grid: that start stays there
    k = int(np.argmin(np.abs(b + 2.5)))
    assert codes[k][int(np.argmin(np.abs(x0)))] == I.BASIN_NONE


# ---------------------------------------------------------------------------------------------
# Fig. 6
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip():
    return I.clipping_data(thresholds=(0.1, 1.0, 1e30), lrs=(0.3, 1.0), steps=60, pixels=40)


def test_clipping_paths_and_outcomes_are_gradient_descent(clip):
    starts = np.array(clip["starts"])
    assert np.allclose(starts, I.fig6_starts())
    plain, clipped = I.unpack(clip["plain"]), I.unpack(clip["clipped"])
    assert plain.shape == (2, 6, 61, 2) and clipped.shape == (2, 3, 6, 61, 2)
    for a, lr in enumerate(clip["lrs"]):
        ref = D.gradient_descent(starts, lr, 60)
        assert np.allclose(plain[a], ref.theta.swapaxes(0, 1), rtol=1e-6, atol=1e-5)
        o = D.valley_outcomes(ref)
        assert clip["outcomes"]["plain"][a]["clip_count"] == [0] * 6
        assert np.allclose(clip["outcomes"]["plain"][a]["final_E"], o["final_E"])
        for t, thr in enumerate(clip["thresholds"]):
            ref = D.gradient_descent(starts, lr, 60, thr)
            assert np.allclose(clipped[a, t], ref.theta.swapaxes(0, 1), rtol=1e-6, atol=1e-5)
            o = D.valley_outcomes(ref)
            got = clip["outcomes"]["clipped"][a][t]
            assert got["clip_count"] == [int(c) for c in o["clip_count"]]
            assert got["left"] == [bool(v) for v in o["left"]]
            assert np.allclose(got["longest_step"], o["longest_step"])
    # a threshold no gradient reaches never fires: the clipped path is the plain one
    assert np.array_equal(clipped[:, 2], plain)
    # a small threshold bounds every step by lr * threshold
    steps = np.linalg.norm(np.diff(clipped[0, 0], axis=1), axis=-1)
    assert steps.max() <= 0.3 * 0.1 * (1 + 1e-5)


def test_clipping_surface_is_the_error_surface_image(clip):
    import matplotlib.image

    uri = clip["surface"]
    assert uri.startswith("data:image/png;base64,")
    img = matplotlib.image.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    assert img.shape[:2] == (40, 40)
    # bottom-left (w = 1, b = -7) is on the high plateau (bright), top-right (w = 10, b = 1) on the low (dark)
    E = D.error_surface(np.array([1.0, 10.0]), np.array([-7.0, 1.0])).E
    assert E[0] > 0.4 and E[1] > 0.05 and img[-1, 0, :3].sum() > img[0, -1, :3].sum()
    assert clip["wall"]["slope"] == -float(D.logistic(0.5))


# ---------------------------------------------------------------------------------------------
# Fig. 7
# ---------------------------------------------------------------------------------------------


def _run(init, method, length, seed, *, updates, cap, success_at=None, diverged=False):
    return {"config": {"init": init, "method": method, "min_length": length, "max_length": length, "seed": seed,
                       "max_updates": cap, "check_every": 2000},
            "success": success_at is not None, "first_success_update": success_at, "diverged": diverged,
            "censored": success_at is None and not diverged, "updates": updates}


@pytest.fixture
def file():
    return {"runs": [
        _run("sigmoid", "msgd", 20, 0, updates=30_000, cap=100_000, success_at=30_000),
        _run("sigmoid", "msgd", 20, 1, updates=50_000, cap=100_000, diverged=True),
        _run("sigmoid", "msgd", 20, 2, updates=100_000, cap=100_000),
        _run("sigmoid", "msgd_cr", 20, 0, updates=400_000, cap=1_000_000, success_at=400_000),
        _run("sigmoid", "msgd_cr", 20, 1, updates=1_000_000, cap=1_000_000),
    ]}


def test_cap_data_is_grid_points_at_every_cap(file):
    d = I.cap_data(file, paper_cap=5_000_000)
    assert d["caps"][0] == 2000 and d["caps"][-1] == 1_000_000 and 100_000 in d["caps"]
    assert all(c % 2000 == 0 for c in d["caps"]) and d["caps"] == sorted(set(d["caps"]))
    assert d["trained_caps"] == [100_000, 1_000_000] and d["initial"]["cap"] == 100_000
    F = {f: i for i, f in enumerate(d["fields"])}
    for cap, rows in zip(d["caps"], d["table"]):
        ref = {(p.init, p.method, p.min_length): p for p in grid_points(file, cap=cap)}
        for key, row in zip(d["points"], rows):
            p = ref[tuple(key)]
            assert (row[F["runs"]], row[F["successes"]], row[F["censored"]], row[F["diverged"]]) == \
                   (p.runs, p.successes, p.censored, p.diverged)
            assert np.allclose(row[F["ci_low"]:], p.interval, atol=1e-4)


def test_cap_data_reads_runs_as_if_they_had_stopped_at_the_cap(file):
    d = I.cap_data(file, caps=[20_000, 40_000, 60_000, 500_000])
    F = {f: i for i, f in enumerate(d["fields"])}
    msgd = d["points"].index(["sigmoid", "msgd", 20])
    cr = d["points"].index(["sigmoid", "msgd_cr", 20])
    at = lambda c, k: [d["table"][d["caps"].index(c)][k][F[f]] for f in ("successes", "censored", "diverged")]  # noqa: E731
    assert at(20_000, msgd) == [0, 3, 0]      # solved later, diverged later, unsolved: all censored
    assert at(40_000, msgd) == [1, 2, 0]      # the 30k success counts
    assert at(60_000, msgd) == [1, 1, 1]      # the divergence at 50k counts
    assert at(500_000, msgd) == [1, 1, 1]     # the run trained to 10^5 stays censored above its cap
    assert at(60_000, cr) == [0, 2, 0] and at(500_000, cr) == [1, 1, 0]


def test_cap_data_needs_runs():
    with pytest.raises(ValueError, match="no finished runs"):
        I.cap_data({"runs": []})


# ---------------------------------------------------------------------------------------------
# The HTML fragment
# ---------------------------------------------------------------------------------------------


def test_widget_html_is_self_contained_and_carries_its_data(file):
    w = I.cap_explorer(file, paper_cap=5_000_000)
    html = w.html()
    payload = re.search(r'<script type="application/json" class="rnnbook-widget-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(payload) == json.loads(json.dumps(w.data))
    assert "rnnbookWidgets.mount(" in html and 'data-kind="caps"' in html
    # nothing to fetch: no src/href attributes, no URL other than the SVG namespace
    assert not re.search(r'\b(src|href)\s*=\s*["\'](?!data:)', html)
    urls = set(re.findall(r"https?://[^\s\"')]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert w.size == len(html.encode("utf-8"))
    # two widgets on one page get distinct ids
    assert re.search(r'id="([^"]+)"', w.html()).group(1) != re.search(r'id="([^"]+)"', html).group(1)


def test_widgets_fit_a_page():
    """The whole Fig. 3 explorer at the book's resolution stays well under a few MB."""
    assert I.bifurcation_explorer().size < 1.5e6
    assert not math.isnan(I.bifurcation_data(b_step=0.5, start_step=2.0, basin_step=1.0, T=50)["bif"]["b_1"])
