"""Talking to the outside: Docker (dockernet, containers), kind and Kubernetes (kube), MetalLB (metallb),
the wait loop (waits) and the kind network's plan (network). Imports ``core`` only.
"""
