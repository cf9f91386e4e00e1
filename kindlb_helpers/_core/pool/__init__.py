"""Address pools for MetalLB: parse, plan and validate ranges inside the kind network (pure: standard library only).

The names the facade, the other modules and the tests use, re-exported from the submodules:

- ``ranges``: :class:`PoolRange` (an address, ``first-last`` or a CIDR), :class:`Reserved`, :func:`reserved`;
- ``subnets``: :func:`as_subnet`, :func:`usable_range`;
- ``plan``: :func:`plan_pool`, :func:`validate_pool`, :func:`default_size`.
"""
from .plan import DEFAULT_POOL_SIZE, default_size, plan_pool, validate_pool
from .ranges import IPAddress, IPInterface, IPNetwork, PoolRange, PoolSpec, Reserved, TakenSpec, reserved
from .subnets import as_subnet, usable_range

__all__ = [
    "DEFAULT_POOL_SIZE", "IPAddress", "IPInterface", "IPNetwork", "PoolRange", "PoolSpec", "Reserved", "TakenSpec",
    "as_subnet", "default_size", "plan_pool", "reserved", "usable_range", "validate_pool",
]
