"""The consoles every command prints through, and how text and tables reach them: wrapped by rich at word
boundaries to the terminal's width, tables never cut ("…"), ASCII stand-ins where the terminal cannot show UTF-8.
Light to import: the CLI imports it for its consoles before anything else."""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from squatcli.files import ResultStream

out = Console(file=ResultStream(), soft_wrap=True)  # results
err = Console(stderr=True, soft_wrap=True)  # progress, warnings, errors



def plain(text: str) -> str:
    """`text` where stdout can encode it (UTF-8), else with ASCII stand-ins for its symbols."""
    from squatcli.report.model import ascii_text

    try:
        text.encode(out.encoding or "ascii")
        return text
    except (UnicodeEncodeError, LookupError):
        return ascii_text(text)


def show(renderable) -> None:
    """Print a table or panel on stdout, wrapped to the terminal's width but never cut: a cell's word too long
    for its column folds onto the next line (not "…"), and a terminal narrower than the longest words need gets
    it at the width they need (the terminal then wraps its lines), not with columns emptied."""
    from rich.measure import Measurement
    from rich.panel import Panel
    from rich.segment import Segments
    from rich.table import Table

    soft: dict = {}
    if isinstance(renderable, Table):  # title and caption unwrapped, as `out` prints text (soft_wrap)
        soft = {"no_wrap": True, "overflow": "ignore"}
        for column in renderable.columns:
            column.overflow = "fold"
    inner, frame = (renderable.renderable, 4) if isinstance(renderable, Panel) else (renderable, 0)  # border, padding
    need = Measurement.get(out, out.options.update(width=10**4), inner).minimum + frame
    options = out.options.update(width=max(out.options.max_width, need), **soft)
    for line in out.render_lines(renderable, options, pad=False):
        out.print(Segments(rstrip(line) + [Segment.line()]), end="")


def rstrip(line: list[Segment]) -> list[Segment]:
    """A rendered line without its trailing blanks (cells pad to their column's width)."""
    line = list(line)
    while line and not line[-1].control and not line[-1].text.strip():
        line.pop()
    if line and not line[-1].control:
        line[-1] = Segment(line[-1].text.rstrip(), line[-1].style)
    return line


def say(markup: str, indent: int = 0) -> None:
    """A paragraph of rich markup wrapped at word boundaries to the terminal's width, every line indented by
    `indent` (a word longer than a line folds; nothing is cut)."""
    text = Text.from_markup(plain(markup))
    for line in text.wrap(out, max(out.width - indent, 10)):
        line.rstrip()
        out.print(Text(" " * indent) + line, highlight=False)


