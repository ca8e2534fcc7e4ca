"""Every human-facing view of squatcli's results: the typed report of an assessment (`model`), and its views in the
terminal (`terminal`, `tables`), as JSON (`Report.to_dict`), as an HTML page (`html`), drawn on video frames
(`overlay`) and as figures (`figures`). Views import their heavy libraries (matplotlib, OpenCV) when called."""

from squatcli.report.model import Report, build

__all__ = ["Report", "build"]
