"""Sweeps: many configurations, replicated, in parallel (``sweep``), kept in a
content-addressed store (``store``), described by spec files (``spec``)."""
