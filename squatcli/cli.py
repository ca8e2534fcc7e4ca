"""The `squat` command: a thin Typer app that calls library functions and renders with rich.

Heavy modules (tensorflow, mediapipe, cv2) are imported inside the commands, so `squat --help` is instant.
Errors a user can fix (SquatError) print one line to stderr and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Callable

import typer
from rich.console import Console
from rich.markup import escape

from squatcli.errors import SquatError

app = typer.Typer(
    name="squat",
    help="Judge squat form from a video: 3D pose -> temporal distance matrix -> CNN/BiLSTM verdict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(soft_wrap=True)  # results
err = Console(stderr=True, soft_wrap=True)  # progress, warnings, errors


def command(fn: Callable) -> Callable:
    """Register a command whose SquatErrors become one red line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SquatError as e:
            err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return app.command()(wrapper)


def not_available(name: str, issue: str) -> None:
    raise SquatError(f"`squat {name}` is not available yet ({issue} has not landed)")


@command
def extract(
    video: Annotated[Path, typer.Argument(help="A video file (mp4, mov, avi, ...).")],
    output: Annotated[Path | None, typer.Option("-o", "--out", help="Joints .npz to write [default: VIDEO.npz].")] = None,
    stride: Annotated[int, typer.Option("--stride", min=1, max=10, help="Run the pose model on every k-th frame; joints between are interpolated.")] = 2,
) -> None:
    """Extract 3D joints (19 per frame, metres, 30 fps) from a video into a joints .npz."""
    not_available("extract", "the foundation issue")


@command
def synth() -> None:
    """Generate the synthetic squat corpus (paper dataset layout + joints .npz)."""
    not_available("synth", "the synthetic corpus issue")


@command
def train() -> None:
    """Train a CNN or BiLSTM classifier."""
    not_available("train", "the classifiers issue")


@command
def evaluate() -> None:
    """Evaluate trained classifiers on a test split or dataset."""
    not_available("evaluate", "the classifiers issue")


@command
def assess() -> None:
    """Assess squat form in videos or pose clips."""
    not_available("assess", "the assessment issue")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
