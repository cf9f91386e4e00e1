"""What the notebooks show and do: the demo app, layer 2, exercises, troubleshooting, the doctor,
widgets, diagrams, the two eras and tables. Imports ``core`` and ``cluster``.
"""
