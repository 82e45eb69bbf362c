"""The model: a configuration (``config``, ``presets``), the numba engine that runs it
(``engine``), the same model in plain Python (``reference``), and the run with its
summary (``simulation``, ``result``). docs/model.md describes it rule by rule."""
