"""Every human-facing view of squatcli's results: the typed report of an assessment (`model.build`), and its views
in the terminal (`terminal`, `tables`, through the consoles of `console`), as JSON (`model.Report.to_dict`), as an
HTML page (`html`), drawn on video frames (`overlay`) and as figures (`figures`). Views import their heavy libraries
(matplotlib, OpenCV) when called; nothing is imported here, so the CLI's consoles load without the report model."""
