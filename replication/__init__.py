"""sae-replication: claims of SAE papers, measured on toy data, a tiny LM and the papers' own weights.

The core (claims, verdicts, records, the analysis registry) knows no paper; :mod:`replication.papers` is the
one place that lists them.
"""
