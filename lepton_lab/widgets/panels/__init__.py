"""The what-if apps that Voila publishes (``widgets/NAME.ipynb``), one module per app, named like
its notebook: :mod:`.datacenter`, :mod:`.lifecycle`, :mod:`.carbon_aware`, :mod:`.leaderboard`. Display
``Panel().widget``; the notebooks do ``from lepton_lab.widgets.panels import DatacenterPanel``.

Each panel is controls on the left, numbers and a bqplot chart on the right, the assumptions
below, and a picker to start from a measured report. The models live in :mod:`lepton_lab.whatif`;
a panel only reads widgets, calls a model and draws the result. :mod:`.base` re-checks and clamps
every input (a browser can forge widget values), :mod:`.look` holds the page's look and chart
helpers, :mod:`.report_picker` the measurement picker. ipywidgets and bqplot load on first use.

A new app is one model in ``whatif/``, one module here and one notebook in ``widgets/``
(CONTRIBUTING.md).
"""
from __future__ import annotations

from .base import Panel
from .carbon_aware import CarbonAwarePanel
from .datacenter import DatacenterPanel
from .leaderboard import LeaderboardPanel
from .lifecycle import LifecyclePanel
from .report_picker import ReportPicker

__all__ = ["CarbonAwarePanel", "DatacenterPanel", "LeaderboardPanel", "LifecyclePanel", "Panel", "ReportPicker"]
