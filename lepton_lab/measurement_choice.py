"""Which measurement the options ask for: of this machine, or (``dask``) of a whole cluster.

Every presenter (``measure()``, ``%%energy``, ``lepton-lab measure``) starts its measurement
here. The cluster module is imported only when ``dask`` is set, so a local measurement never
loads it (nor Dask).
"""
from __future__ import annotations

from typing import Any

from .measurement import Measurement


def measurement_for(options: Any, **kwargs: Any) -> Any:
    """A :class:`Measurement` of this machine, or with ``options.dask`` a ``ClusterMeasurement``."""
    if options.dask is None:
        return Measurement(options, **kwargs)
    from .cluster import ClusterMeasurement

    return ClusterMeasurement(options, **{k: v for k, v in kwargs.items() if k in ("clock", "ledger")})
