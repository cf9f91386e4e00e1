"""IPv6 and dual-stack LoadBalancers (notebook 07_dual_stack): the cluster's families, one pool in both, the three
``ipFamilyPolicy`` Services, NDP on the wire, and a failover seen in both families.

- ``stack``: :func:`cluster_table`, :func:`pods_table`, :func:`subnets_table`, :func:`plan`, :func:`check`;
- ``services``: :func:`expose`, :func:`address`, :func:`from_ipv4_pool`, :func:`require_dual_on`, ...;
- ``wire``: :func:`route`, :func:`fetch`, :func:`first_contact`, :func:`families_table`, :func:`failover_figure`.
"""
from .services import (
    PINNED,
    POLICIES,
    address,
    expose,
    from_ipv4_pool,
    policy_objects,
    remove,
    require_dual_on,
    service_object,
    services_table,
    undo_from_ipv4_pool,
)
from .stack import (
    DualPool,
    check,
    cluster_table,
    families_of,
    next_segment_range,
    plan,
    pods_table,
    require_ok,
    subnets_table,
)
from .wire import (
    FirstContact,
    failover_figure,
    families_table,
    fetch,
    first_contact,
    packets_table,
    route,
    route_get,
)

__all__ = [
    "DualPool", "FirstContact", "PINNED", "POLICIES", "address", "check", "cluster_table", "expose", "failover_figure",
    "families_of", "families_table", "fetch", "first_contact", "from_ipv4_pool", "next_segment_range",
    "packets_table", "plan",
    "pods_table", "policy_objects", "remove", "require_dual_on", "require_ok", "route", "route_get",
    "service_object", "services_table", "subnets_table", "undo_from_ipv4_pool",
]
