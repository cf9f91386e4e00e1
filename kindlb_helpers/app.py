"""``kh.app``: the demo application: nginx deployed and exposed as a LoadBalancer Service, its external IP
waited for, requests sent to it (from the host or from a container on the kind network), and removed.

>>> import kindlb_helpers as kh
>>> [o["kind"] for o in kh.app.nginx_objects()]
['Deployment', 'Service']
"""
from ._cluster.containers import Route, choose_route, fetch_in_network, remove_probe
from ._cluster.rollout import rollout_status
from ._core.objects import DEFAULT_IMAGE, nginx_objects
from ._lesson.app import (
    ExternalIP,
    ServiceState,
    create_lb_service,
    delete_service,
    deploy,
    external_ip,
    extras_table,
    fetch,
    remove,
    service_state,
    spread,
    wait_external_ip,
    wait_rollout,
)

__all__ = ["DEFAULT_IMAGE", "ExternalIP", "Route", "ServiceState", "choose_route", "create_lb_service",
           "delete_service", "deploy", "external_ip", "extras_table", "fetch", "fetch_in_network", "nginx_objects",
           "remove", "remove_probe", "rollout_status", "service_state", "spread", "wait_external_ip", "wait_rollout"]
