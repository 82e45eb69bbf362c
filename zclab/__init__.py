"""zclab: the Linux vhost-net transmit zero-copy design, studied by simulation.

    >>> import zclab
    >>> r = zclab.simulate(zclab.Config(policy="ring-quarter-stall", n_packets=50_000))
    >>> r.summary["invariant_violations"]
    0

The public API:

==================  ==========================================================
``Config``          every model parameter, validated, with presets
``simulate``        run one configuration, get a ``Result``
``Result``          the summary record, the optional trace, the config
``ConfigError``     a bad parameter: names the field, the value, what is allowed
``warmup``          compile (or load) the engine before timing anything
``sweep``           many configurations, replicated, parallel, resumable
``aggregate``       mean and confidence interval over replications
``load``            read a result store back as one frame
==================  ==========================================================
"""

from .config import Config, ConfigError
from .presets import HOST_PRESETS, POLICY_PRESETS, WORKLOAD_PRESETS
from .result import SUMMARY_FIELDS, Result
from .simulation import InvariantViolation, SimulationError, simulate, warmup
from .store import Store
from .sweep import SweepError, aggregate, sweep


def load(store=None):
    """Read a result store (default ``data/store`` or ``$ZCLAB_STORE``) back as one frame.

    A directory that does not exist is an error that names it (a typo would otherwise
    read as an empty store); an empty store gives the columns and no rows."""
    from .store import default_store

    path = store if store is not None else default_store()
    st = path if isinstance(path, Store) else Store(path)
    if not st.path.is_dir():
        raise FileNotFoundError(f"zclab.load: no result store at {st.path} (a directory a sweep wrote)")
    return st.load()

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "Result",
    "simulate",
    "warmup",
    "sweep",
    "aggregate",
    "load",
    "Store",
    "SweepError",
    "SimulationError",
    "InvariantViolation",
    "SUMMARY_FIELDS",
    "POLICY_PRESETS",
    "WORKLOAD_PRESETS",
    "HOST_PRESETS",
    "__version__",
]
