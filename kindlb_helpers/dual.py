"""``kh.dual``: IPv6 and dual-stack LoadBalancers (notebook 07_dual_stack): the cluster's families, the kind
network's two subnets, one pool with a range of each, Services per ``ipFamilyPolicy``, the page over IPv6, NDP
on the wire (Neighbor Solicitation and Advertisement), and a failover seen in both families.

>>> import kindlb_helpers as kh
>>> [p for _, p, _ in kh.dual.POLICIES]
['SingleStack', 'PreferDualStack', 'RequireDualStack']
"""
from ._core.pool.families import family_word, validate_families
from ._lesson.dual import (
    PINNED,
    POLICIES,
    DualPool,
    FirstContact,
    address,
    check,
    cluster_table,
    expose,
    failover_figure,
    families_of,
    families_table,
    fetch,
    first_contact,
    from_ipv4_pool,
    next_segment_range,
    packets_table,
    plan,
    pods_table,
    policy_objects,
    remove,
    require_dual_on,
    require_ok,
    route,
    route_get,
    service_object,
    services_table,
    subnets_table,
    undo_from_ipv4_pool,
)

__all__ = [
    "DualPool", "FirstContact", "PINNED", "POLICIES", "address", "check", "cluster_table", "expose",
    "failover_figure", "families_of", "families_table", "family_word", "fetch", "first_contact", "from_ipv4_pool",
    "next_segment_range", "packets_table", "plan", "pods_table", "policy_objects", "remove", "require_dual_on",
    "require_ok", "route", "route_get", "service_object", "services_table", "subnets_table", "undo_from_ipv4_pool",
    "validate_families",
]
