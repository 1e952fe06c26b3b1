"""Table 1's natural problems (Chapter 4.3): the data as windows and scores (task), the declared
protocols (experiments; ../registry/natural.toml), the three methods trained side by side by epochs
(training), and the corpora, offline (corpora/)."""
