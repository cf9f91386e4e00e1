"""The ``kindlb`` command and what it runs: cli, the series runner, offline bundles, HTML export and
the packaged notebooks. Imports the layers below.
"""
