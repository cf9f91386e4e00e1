"""The pure core: errors, version pins, name validators, pools, sipcalc, MetalLB manifests, objects,
parameters and the hood. Imports nothing outside ``core`` but the standard library, PyYAML and pandas
(for tables); needs neither Docker nor a cluster.
"""
