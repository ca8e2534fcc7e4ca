"""The HTML report (`squat assess --report out.html`): one self-contained page, no network and no script (pictures
are embedded as data URIs): the verdict and why, what lies outside the coaching ranges, how to film, the reps with
a still of each one's deepest point, the curves over time, the probabilities and what the view could not judge.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from squatcli import __version__
from squatcli.datasets import atomic_output
from squatcli.report.model import FLAG_NOTE, TABLE_METRICS, Report, fault_name, metric, model_scope, range_text, reps_text
from squatcli.skeleton import squat_class

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;color:#1d2330;
background:#f4f5f7;line-height:1.45}
main{max-width:980px;margin:0 auto;padding:24px}
section{background:#fff;border-radius:10px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{margin:0;font-size:1.9em} h2{font-size:1.15em;margin:0 0 8px}
.verdict{color:#fff;border-radius:10px;padding:18px 22px} .good{background:#2e8540} .bad{background:#c0392b}
.verdict p{margin:6px 0 0} .meta{opacity:.9;font-size:.9em}
table{border-collapse:collapse;width:100%;font-size:.93em} th,td{padding:5px 8px;border-bottom:1px solid #e3e6ea;
text-align:left} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} td.n{white-space:nowrap}
.out{color:#b35c00;font-weight:600} .dim{color:#8a93a3} .fault{color:#c0392b;font-weight:600} .ok{color:#2e8540}
.bar{background:#4a78c2;height:10px;border-radius:3px;display:inline-block}
.stills{display:flex;flex-wrap:wrap;gap:12px} figure{margin:0;text-align:center;font-size:.85em}
figure img{max-height:300px;border-radius:6px;display:block} .curves img{width:100%}
.account{margin:4px 0 4px 14px} .legend{font-size:.85em;color:#5b6474;margin-top:8px}
footer{font-size:.8em;color:#8a93a3;text-align:center;margin:20px 0}
"""


def data_uri(data: bytes, mime: str) -> str:
    """Bytes as a data: URI (the page needs no other file)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def page(report: Report, stills: list[bytes], curves: bytes | None) -> str:
    """The whole page for a report, its stills (JPEG bytes, one per report.stills) and its curves (PNG bytes)."""
    parts = [_verdict(report), _why(report), _advice(report), _reps(report, stills)]
    if curves:
        parts.append(f'<section class="curves"><h2>Over time</h2><img alt="knee angle, hip height and trunk lean over '
                     f'time" src="{data_uri(curves, "image/png")}"></section>')  # fmt: skip
    parts += [_probabilities(report), _view(report)]
    title = escape(f"squat assess: {Path(report.input).name}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{title}</title><style>{STYLE}</style></head>'
            f'<body><main>{"".join(p for p in parts if p)}<footer>squatcli {escape(__version__)}: the verdicts come '
            f"from the classifier; the measurements are read from the joints against documented coaching ranges "
            f"(rules of thumb, not clinical norms) to explain them.</footer></main></body></html>\n")  # fmt: skip


def _verdict(r: Report) -> str:
    overruled = r.overruled()
    return (f'<section class="verdict {"good" if r.good else "bad"}"><h1>{escape(r.verdict_text)}</h1>'
            f"<p>{escape(r.cue)}</p><p class=\"meta\">{escape(Path(r.input).name)} &middot; P(good) {r.p_good:.2f} "
            f"vs threshold {r.threshold:.2f}{escape(', but ' + overruled) if overruled else ''} &middot; "
            f"model {escape(r.model)}, mean over {r.mean_over()}</p></section>")  # fmt: skip


def _why(r: Report) -> str:
    html = []
    for ev in r.evidence:
        reps = reps_text(ev.reps, r.reps) if ev.reps and r.reps else ""
        rows = "".join(f"<tr><td>{escape(metric(m).label)}</td><td class=\"n\">"
                       f"{escape(', '.join(metric(m).text(v) or 'not measured' for v in values))}</td>"
                       f"<td>{escape(range_text(m)) or '<span class=dim>no documented range</span>'}</td></tr>"
                       for m, values in zip(ev.metrics, ev.values))  # fmt: skip
        html.append(f"<h2>Why {escape(fault_name(ev.fault))}{f' ({escape(reps)})' if reps else ''}</h2>"
                    f"<table><tr><th>measurement</th><th class=\"n\">value</th><th>coaching range</th></tr>{rows}"
                    f"</table><p class=\"account\">&rarr; {escape(ev.account)}</p>")  # fmt: skip
    others = [a for a in r.accounts if not a.explained]
    if others:
        html.append("<h2>Also outside the coaching ranges</h2>")
        for a in others:
            m = metric(a.metric)
            cue = f" Worth a look: {escape(a.cue)}" if a.cue else ""
            html.append(f'<p class="account"><span class="out">{escape(m.label)} '
                        f"{escape(', '.join(m.text(v) for v in a.values))}</span> ({escape(range_text(a.metric))}) in "
                        f"{escape(reps_text(a.reps, r.reps))}: {escape(a.text)}.{cue}</p>")  # fmt: skip
    return f"<section>{''.join(html)}</section>" if html else ""


def _advice(r: Report) -> str:
    if not r.advice:
        return ""
    return f"<section><h2>How to film</h2><p>{escape(r.advice[:1].upper() + r.advice[1:])}.</p></section>"


def _reps(r: Report, stills: list[bytes]) -> str:
    if not r.reps:
        return ""
    shown = [m for m in TABLE_METRICS if any(x.values.get(m) is not None for x in r.reps)]
    head = "".join(f'<th class="n">{escape(metric(m).label)}<br><span class="dim">{escape(range_text(m))}</span></th>'
                   for m in shown)  # fmt: skip
    body = []
    for x in r.reps:
        said = ('<td class="dim">not judged by itself</td>' if not x.judged else '<td class="ok">good</td>'
                if x.verdict == "good" else f'<td class="fault">{escape(fault_name(x.fault))}</td>')  # fmt: skip
        cells = "".join(f'<td class="n{" out" if m in x.out_of_range else ""}">'
                        f"{escape(metric(m).text(x.values.get(m)))}{' !' if m in x.out_of_range else ''}</td>"
                        for m in shown)  # fmt: skip
        body.append(f"<tr><td>{escape(x.label)}</td><td class=\"n\">{x.start_s:.1f}-{x.end_s:.1f}</td>{said}{cells}</tr>")
    figures = "".join(f'<figure><img alt="{escape(s.caption)}" src="{data_uri(data, "image/jpeg")}">'
                      f"<figcaption>{escape(s.caption)}</figcaption></figure>"
                      for s, data in zip(r.stills, stills) if data)  # fmt: skip
    count = f"{r.rep_count} rep{'s' if r.rep_count != 1 else ''}" + (f" + {r.partial_count} partial" if r.partial_count else "")
    cut = "; (cut): a rep the clip starts or ends inside" if r.partial_count else ""
    return (f"<section><h2>{count}</h2><table><tr><th>rep</th><th class=\"n\">time (s)</th><th>verdict</th>{head}</tr>"
            f"{''.join(body)}</table><p class=\"legend\">! outside its coaching range{cut}. The deepest point of each "
            f"rep, joints at fault in red, outside a range in amber:</p><div class=\"stills\">{figures}</div></section>")  # fmt: skip


def _probabilities(r: Report) -> str:
    rows = []
    flags = " " + escape(FLAG_NOTE[0].upper() + FLAG_NOTE[1:]) + "." if any(c.flag is not None for c in r.probabilities) else ""
    where = f"the {r.view.name} view" if r.view.name else "this view"
    for c in r.probabilities:
        name = escape(squat_class(c.key).name)
        if c.judged:
            flag = f" flag {c.flag:.0%}" if c.flag is not None else ""
            rows.append(f'<tr><td>{name}</td><td class="n">{c.p:.1%}</td><td><span class="bar" '
                        f'style="width:{c.p * 300:.0f}px"></span>{flag}</td></tr>')  # fmt: skip
        else:
            rows.append(f'<tr class="dim"><td>{name}</td><td class="n">{c.p:.1%}</td><td>not judged: '
                        f"{escape(where)} cannot show it</td></tr>")  # fmt: skip
    return (f"<section><h2>Probabilities</h2><table><tr><th>class</th><th class=\"n\">P</th><th></th></tr>"
            f"{''.join(rows)}</table><p class=\"legend\">Model {escape(r.model)} "
            f"({escape(r.data['model_inputs'])}).{flags}</p></section>")  # fmt: skip


def _view(r: Report) -> str:
    lines = []
    v = r.view
    if v.name:
        lines.append(f"Seen from the {escape(v.name)} (yaw {v.yaw:.0f}&deg;).")
    if v.unmeasured:
        lines.append("Not measured from this view: " + escape(", ".join(metric(m).label for m in v.unmeasured)) + ".")
    if v.unjudged:
        lines.append("Not judged from this view: " + escape(", ".join(fault_name(k) for k in v.unjudged)) + ".")
    if v.unknown or v.measured:
        lines.append(f"The model {escape(r.model)} {escape(model_scope(v))}.")
    lines += [f"Note: {escape(n)}" for n in r.notes]
    if not lines:
        return ""
    return "<section><h2>What could not be judged</h2>" + "".join(f"<p>{line}</p>" for line in lines) + "</section>"


def write_html(report: Report, path: str | Path) -> Path:
    """Write the report's page atomically: no file, or the whole page."""
    from squatcli.report.figures import curves_figure
    from squatcli.report.overlay import still_images

    text = page(report, still_images(report), curves_figure(report) if report.curves else None)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
