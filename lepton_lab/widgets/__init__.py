"""Figures and widgets. Nothing is imported here; import the module you need.

Pure (no ipywidgets, no bqplot; numpy at most), shared by every figure:

- :mod:`.scales`: bounds, ticks and axis units (one rule: ticks never carry a prefix of their own).
- :mod:`.style`: colours per domain, legend names, the warning colour.
- :mod:`.traces`: bounded live traces and the decimation of a report's trace.
- :mod:`.svg`: the static SVG figures (shown as images: they survive saving and untrusted notebooks).
- :mod:`.static`: what a finished measurement leaves in the notebook (``report.plot()``).
- :mod:`.compare`: measurements side by side (``lepton_lab.compare``), static unless asked for a widget.

Interactive (the ``lab`` extra):

- :mod:`.interactive`: the one bqplot module: the live power figure, comparison and lesson bars.
- :mod:`.live`: the live view ``%%energy`` draws under a running cell.
- :mod:`.panels`: the what-if apps behind ``widgets/*.ipynb`` (one module per app).
"""
