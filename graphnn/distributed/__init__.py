"""graphnn on a Dask cluster: compiled functions over dask arrays (`map_blocks`, `grad_sum`),
the shards of data-parallel training (`fit(..., client=)`), and their errors.

Importing this package does not import dask; its functions do. docs/distributed.md describes
what travels to the workers, what it costs and how to run on a real cluster.
"""

from graphnn.compiler.blocks import map_blocks
from graphnn.distributed.errors import DistributedError, WorkerLostError
from graphnn.distributed.gradients import grad_sum
from graphnn.distributed.shards import ShardActor, ShardGroup, striped_owners

__all__ = ["DistributedError", "ShardActor", "ShardGroup", "WorkerLostError", "grad_sum",
           "map_blocks", "striped_owners"]
