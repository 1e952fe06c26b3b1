"""What the pages show: the book's figure style (plotting) and its figures (sweep_figures,
remedies_plots, table1_plots), tables and glued facts (display, facts, clipping_study), interactive
figures (interactive/), a notebook's setup (runtime) and the whole book as a PDF (pdf)."""
