"""The terminal view of an assessment's report (rich): verdict and why, accounts, probabilities, reps, view.

80 columns stay readable: short column names with a legend, text wrapped at word boundaries (console.say), tables
never cut (console.show).
"""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.text import Text

from squatcli.report.console import out, plain, say, show
from squatcli.report.model import FLAG_NOTE, TABLE_METRICS, Report, fault_name, metric, model_scope, range_text, reps_text

# Short names of the faults for the reps table's verdict column (80 columns).
SHORT_FAULTS = {"good": "good", "knees_in": "knees in", "shallow": "shallow", "knees_forward": "knees fwd",
                "forward_lean": "lean fwd", "toes_up": "toes up", "back_round": "round back", "back_arch": "arched",
                "head_up": "head up"}  # fmt: skip

# ---- squat assess -----------------------------------------------------------------------------------------------


def print_assessment(report: Report) -> None:
    """The human-readable report of one assessment: verdict and cue, why, what else is out of range, the
    probabilities (unjudged faults marked), the reps, what the view hid and how to film."""
    from rich.panel import Panel

    out.print(escape(report.input), highlight=False)  # one token, never wrapped: the terminal wraps it
    colour = "green" if report.good else "red"
    show(Panel(Text.from_markup(f"[bold {colour}]{escape(report.verdict_text)}[/]\n{escape(plain(report.cue))}"),
               expand=False))  # fmt: skip
    for ev in report.evidence:
        print_evidence(report, ev)
    unexplained = [a for a in report.accounts if not a.explained]
    if unexplained:
        say("[bold]Also outside the coaching ranges:[/]")
        for a in unexplained:
            m = metric(a.metric)
            values = ", ".join(m.text(v) for v in a.values)
            said = f"{m.label} {values} ({range_text(a.metric)}) in {reps_text(a.reps, report.reps)}: {escape(a.text)}"
            say(f"[yellow]![/] {said}" + (f". Worth a look: {escape(a.cue)}" if a.cue else ""), indent=2)
    print_probabilities(report)
    if report.reps:
        print_reps(report)
    elif report.data.get("reps") is not None:
        from squatcli.reps import MIN_EXCURSION

        say(f"[yellow]no rep found[/] (the hips never dropped {MIN_EXCURSION:.0%} of leg length)")
    print_view(report)
    for note in report.notes:
        say(f"[yellow]note:[/] {escape(note)}")


def print_evidence(report: Report, ev) -> None:
    """Why a fault is named: its measurements in the reps that name it, with their ranges, and what they say."""
    reps = f" ({reps_text(ev.reps, report.reps)})" if ev.reps and report.reps else ""
    lines = [f"[bold]Why {escape(fault_name(ev.fault))}[/]{reps}:"]
    for name, values in zip(ev.metrics, ev.values):
        m = metric(name)
        shown = ", ".join(m.text(v) or "not measured" for v in values)
        ranged = f" (range {range_text(name)})" if range_text(name) else ""
        lines.append(f"{m.label}: {shown}{ranged}")
    say(lines[0])
    for line in lines[1:]:
        say(line, indent=2)
    say(f"→ {escape(ev.account)}", indent=2)


def print_probabilities(report: Report) -> None:
    """Class probabilities, judged classes by probability first; a fault the view cannot show is marked."""
    from rich.table import Table

    from squatcli.skeleton import squat_class

    out.print()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("class")
    table.add_column("P", justify="right")
    table.add_column("", min_width=20)
    where = f"{report.view.name} view" if report.view.name else "this view"
    for c in report.probabilities:
        style = "green" if c.key == "good" else ("bold" if c.key == report.main_fault else "")
        bar = plain("█") * int(round(c.p * 20)) if c.judged else f"not judged: {where}"
        bar += f" flag {c.flag:.0%}" if c.flag is not None and c.judged else ""
        table.add_row(squat_class(c.key).name, f"{c.p:.1%}", bar, style=style if c.judged else "dim")
    show(table)
    overruled = report.overruled()
    say(f"[dim]P(good) {report.p_good:.2f} vs threshold {report.threshold:.2f} (Youden's index on data the model did "
        f"not train on); model {escape(report.model)} ({escape(report.data['model_inputs'])}); mean over "
        f"{report.mean_over()}{'; ' + overruled if overruled else ''}[/]")  # fmt: skip
    if any(c.flag is not None for c in report.probabilities):
        say(f"[dim]{FLAG_NOTE}[/]")


def print_reps(report: Report) -> None:
    """The reps table: timing, each rep's verdict (rep models) and the measurements that have coaching ranges,
    those outside their range marked "!"; columns no rep could measure are left out; a legend below."""
    from rich.table import Table

    shown = [m for m in TABLE_METRICS if any(r.values.get(m) is not None for r in report.reps)]
    verdicts = any(r.judged for r in report.reps)
    count = f"{report.rep_count} rep{'s' if report.rep_count != 1 else ''}"
    out.print()
    table = Table(title=count + (f" + {report.partial_count} partial" if report.partial_count else ""),
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)  # fmt: skip
    deg = plain("°")
    table.add_column("rep", no_wrap=True)
    table.add_column("time s", justify="right", no_wrap=True)
    if verdicts:
        table.add_column("verdict")
    for name in shown:
        m = metric(name)
        table.add_column(m.header + (deg if m.unit == "°" else ""), justify="right", no_wrap=True)
    for r in report.reps:
        said = []
        if verdicts:
            said = ["[dim]-[/]" if not r.judged else "[green]good[/]" if r.verdict == "good"
                    else f"[red]{SHORT_FAULTS.get(r.fault, str(r.fault).replace('_', ' '))}[/]"]  # fmt: skip
        cells = []
        for name in shown:
            text = format(r.values[name], metric(name).spec) if r.values.get(name) is not None else ""
            cells.append(f"[yellow]{text}![/]" if name in r.out_of_range else text)
        table.add_row(r.label, f"{r.start_s:.1f}-{r.end_s:.1f}", *said, *cells)
    show(table)
    legend = [legend_entry(n) for n in shown]
    say("[dim]" + "; ".join(legend) + "; ! outside its coaching range" +
        ("; (cut): a rep the clip starts or ends inside" if report.partial_count else "") +
        ". Measured from the joints to explain the verdict, against documented coaching ranges: not a second "
        "classifier.[/]")  # fmt: skip


def legend_entry(name: str) -> str:
    """ "k/a: knee/ankle width at the bottom (≥ 0.85)": a column's header, what it is and its range."""
    m = metric(name)
    said = m.label if m.label.startswith(m.header) else f"{m.header}: {m.label}"
    return said + (f" ({range_text(name)})" if range_text(name) else "")


def print_view(report: Report) -> None:
    """What the camera's view (or the model) left unjudged, and one line of filming advice when it matters."""
    v = report.view
    if v.name:
        hidden = ", ".join(metric(m).label for m in v.unmeasured)
        said = f"seen from the {v.name} (yaw {v.yaw:.0f}°)" + (f": not measured: {hidden}" if hidden else "")
        if v.unjudged:
            said += f"; not judged: {', '.join(fault_name(k) for k in v.unjudged)}"
        say(f"[cyan]view:[/] {escape(said)}")
    if v.unknown or v.measured:
        say(f"[cyan]model:[/] {escape(report.model)} {escape(model_scope(v))}")
    if report.advice:
        say(f"[cyan]how to film:[/] {escape(report.advice)}")


def print_batch_summary(results: list) -> None:
    """One row per input of a batch: its verdict (or its error), P(good) and reps; `results` holds
    (path, Report or None, error or None)."""
    from rich.table import Table

    table = Table(title="summary", title_justify="left")
    for name in ("input", "verdict", "P(good)", "reps"):
        table.add_column(name)
    for path, report, error in results:
        if error is not None:
            table.add_row(escape(str(path)), f"[red]failed: {escape(str(error))}[/]", "", "")
        else:
            colour = "green" if report.good else "red"
            reps = str(report.rep_count) if report.data.get("reps") is not None else "-"
            table.add_row(escape(str(path)), f"[{colour}]{report.verdict_text}[/]", f"{report.p_good:.2f}", reps)
    show(table)
