"""zclab: the Linux vhost-net transmit zero-copy design, studied by simulation.

    >>> import zclab
    >>> r = zclab.simulate(zclab.Config(policy="ring-quarter-stall", n_packets=50_000))
    >>> r.summary["invariant_violations"]
    0

The public API is :data:`API` (each name and what it is; ``__all__`` is built from it):
"""

from .model.config import Config, ConfigError
from .model.presets import HOST_PRESETS, POLICY_PRESETS, WORKLOAD_PRESETS
from .model.result import SUMMARY_FIELDS, Result
from .model.simulation import InvariantViolation, SimulationError, simulate, warmup
from .sweeps.store import Store
from .sweeps.sweep import SweepError, aggregate, sweep


def load(store=None):
    """Read a result store (default ``data/store`` or ``$ZCLAB_STORE``) back as one frame.

    A directory that does not exist is an error that names it (a typo would otherwise
    read as an empty store); an empty store gives the columns and no rows."""
    from .sweeps.store import default_store

    path = store if store is not None else default_store()
    st = path if isinstance(path, Store) else Store(path)
    if not st.path.is_dir():
        raise FileNotFoundError(f"zclab.load: no result store at {st.path} (a directory a sweep wrote)")
    return st.load()

try:
    from importlib.metadata import PackageNotFoundError, version as _version

    __version__ = _version("zclab")  # pyproject.toml's, as installed
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

#: The public API, listed once: each name and what it is. ``__all__`` and the table in
#: this module's docstring are built from it.
API = {
    "Config": "every model parameter, validated, with presets",
    "ConfigError": "a bad parameter: names the field, the value, what is allowed",
    "simulate": "run one configuration, get a Result",
    "Result": "the summary record, the optional trace, the config",
    "warmup": "compile (or load) the engine before timing anything",
    "SimulationError": "a run that could not finish (its event cap), naming it",
    "InvariantViolation": "a broken invariant under debug=True, with the packet and time",
    "sweep": "many configurations, replicated, parallel, resumable",
    "aggregate": "mean and confidence interval over replications",
    "load": "read a result store back as one frame",
    "Store": "the content-addressed result store (load, compact, keys)",
    "SweepError": "a bad sweep (spec, grid, size), naming the point and the field",
    "SUMMARY_FIELDS": "every field of a Result's summary, with its meaning and unit",
    "POLICY_PRESETS": "the release-named policies: name -> the rules they set",
    "WORKLOAD_PRESETS": "the workloads: name -> the fields they set",
    "HOST_PRESETS": "the hosts' costs: name -> the fields they set",
}

__all__ = [*API, "__version__"]

__doc__ += "\n" + "\n".join(  # an RST table, for help(zclab) and the docs
    ["=" * 20 + "  " + "=" * 64]
    + [f"{'``' + name + '``':<20}  {what}" for name, what in API.items()]
    + ["=" * 20 + "  " + "=" * 64]
) + "\n"
