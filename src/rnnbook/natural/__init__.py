"""Table 1's natural problems (Chapter 4.3): the data as windows and scores (task), the declared
protocols (experiments; ../registry/natural.toml), what a run reads (data: the corpus cut into
minibatches and scored sequences), the three methods trained side by side by epochs (training),
a run's state file that makes resuming bit for bit (state), its results file and summary
(results), and the corpora, offline (corpora/)."""
