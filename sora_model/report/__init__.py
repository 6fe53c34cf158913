"""The lake's report: static HTML and PNG plots a person reads instead of querying tables (``build.py``), with
the figures in ``plots.py``."""
