"""Widgets for notebooks and the Voila apps (needs the ``lab`` extra).

Nothing is imported here, so ``import lepton_lab.widgets`` stays light (no ipywidgets, no
bqplot); import the submodule you need:

- :mod:`.live`: the live power figure ``%%energy`` draws under a running cell.
- :mod:`.static`: figures of finished measurements and their SVG fallbacks.
- :mod:`.compare`: measurements side by side.
- :mod:`.panels`: the what-if panels behind ``widgets/*.ipynb``
  (``from lepton_lab.widgets.panels import DatacenterPanel``).
"""
