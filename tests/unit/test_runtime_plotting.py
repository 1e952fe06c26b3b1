"""Seeds, threads and the figure files every chapter relies on."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from rnnbook.book import plotting, runtime, sweep_figures


def test_setup_is_reproducible_and_pins_one_thread(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    a = runtime.setup(seed=7, quiet=True)
    x = (a.rng.normal(size=3), torch.randn(3, generator=a.generator), torch.randn(2), np.random.rand())
    b = runtime.setup(seed=7, quiet=True)
    y = (b.rng.normal(size=3), torch.randn(3, generator=b.generator), torch.randn(2), np.random.rand())
    assert np.array_equal(x[0], y[0]) and torch.equal(x[1], y[1]) and torch.equal(x[2], y[2]) and x[3] == y[3]
    assert torch.get_num_threads() == 1 and a.threads == 1
    assert "seed 7" in str(a)


def test_bad_seed_and_threads_are_refused():
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)
    with pytest.raises(ValueError, match="threads"):
        runtime.configure_torch(0)


def test_save_figure_writes_stable_png_svg_and_pdf(tmp_path, monkeypatch):
    monkeypatch.setenv(plotting.FIGURES_ENV, str(tmp_path))
    plotting.use_book_style()

    def draw():
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0, 3], label="a")
        ax.legend()
        paths = plotting.save_figure(fig, "fig-ch9-test-figure")
        plt.close(fig)
        return {k: p.read_bytes() for k, p in paths.items()}

    first, second = draw(), draw()
    assert set(first) == {"png", "svg", "pdf"} and first["png"][:4] == b"\x89PNG" and b"<svg" in first["svg"]
    assert first["pdf"][:5] == b"%PDF-" and b"CreationDate" not in first["pdf"]
    assert first == second, "the same figure must give byte-identical files (no timestamps, fixed ids)"


@pytest.mark.parametrize("name", ["fig1", "fig-ch1", "fig-ch1-Upper", "ch1-slug", "fig-ch1-a_b", "fig-glossary", "fig-gloss-a"])
def test_bad_figure_names_are_refused(name):
    fig = plt.figure()
    with pytest.raises(ValueError, match="fig-ch"):
        plotting.save_figure(fig, name)
    plt.close(fig)


def test_book_root_is_found_from_a_chapter_folder(tmp_path):
    (tmp_path / "_config.yml").write_text("title: x\n")
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "chapters").mkdir()
    assert plotting.book_root(tmp_path / "chapters") == tmp_path
    with pytest.raises(FileNotFoundError):
        plotting.book_root(tmp_path.parent)


def _run(method, T, seed, *, success_at=None, updates=100_000, diverged=False, plateau_end=None):
    checks = list(range(2_000, updates + 1, 2_000))
    loss = [1.386 if plateau_end is None or u < plateau_end else 0.5 for u in checks]
    return {"config": {"init": "basic_tanh", "method": method, "min_length": T, "max_length": T, "seed": seed,
                       "max_updates": 100_000},
            "success": success_at is not None, "first_success_update": success_at, "updates": updates,
            "censored": success_at is None and not diverged, "diverged": diverged,
            "best_valid_error": 0.005 if success_at else 0.7, "final_valid_error": 0.005 if success_at else 0.7,
            "curves": {"update": checks, "train_loss": loss, "valid_error": [0.7] * len(checks)}}


def _collections_text(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + \
        [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_chapter4_figures_mark_censored_and_diverged_runs():
    from rnnbook.verdicts.outcomes import grid_points

    runs = [_run("msgd_cr", 50, 0, success_at=10_000), _run("msgd_cr", 50, 1, updates=40_000, diverged=True),
            _run("msgd", 50, 0), _run("msgd", 50, 1), _run("msgd_cr", 100, 0, updates=1_000_000)]
    points = grid_points({"runs": runs})
    fig = sweep_figures.success_panels(points, ["basic_tanh"], ["msgd", "msgd_cr"], planned=2)
    text = _collections_text(fig)
    assert "1 diverged" in text and "diverged runs (NaN)" in text
    assert any("censored" in t for t in text)
    plt.close(fig)

    groups = {}
    for p in points:
        groups.setdefault((p.method, p.min_length), []).extend(p.records)
    fig, curves = sweep_figures.survival_panels(groups, [50, 100], ["msgd", "msgd_cr"])
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    # every panel reaches the longest follow-up, so the run watched to 10^6 and those stopped at 10^5 both show
    assert all(ax.get_xlim()[1] >= 1_000_000 for ax in fig.axes)
    # the diverged run stays at risk for ever: one of two solved, never more
    assert curves["msgd_cr", 50].solved == [0.5] and curves["msgd_cr", 50].follow_up == float("inf")
    # the censoring ticks carry the number of runs stopped at each cap: two MSGD runs at 10^5
    assert "2" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)

    stuck = [_run("msgd", 20, s) for s in range(3)] + [_run("msgd_cr", 20, 9, success_at=8_000, plateau_end=6_000)]
    fig = sweep_figures.plateau_figure(stuck, ["msgd", "msgd_cr"], cap=100_000)
    assert "3" in [t.get_text() for t in fig.axes[0].texts]      # the stack of three censored triangles is counted
    assert any("3 still on it" in t.get_text() for t in fig.axes[1].get_legend().get_texts())
    plt.close(fig)


def test_power_text():
    assert plotting.power_text(100_000) == "10⁵" and plotting.power_text(250_000) == "2.5 × 10⁵"
