"""Seeds, threads and the figure files every chapter relies on."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from rnnbook import plotting, runtime


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
