"""The history page: one self-contained HTML file that opens from file:// with no network.

What it does: :func:`build_page` writes, from a History and its classified series
(history_check.py), one HTML document: the regressions at the top (largest first, each
linking to its chart), the suspected changes and improvements, a matrix of machines x lab
configuration (each benchmark's newest time and its ratio to a reference machine), and the
trend charts (history_charts.py) as inline SVG.  The classified series are embedded as JSON;
a little inline script filters the tables and charts and names the run under the pointer.
A Content-Security-Policy of ``default-src 'none'`` (inline style and script allowed) makes
the browser refuse any request the page could make.

What it deliberately doesn't do: no statistics (history_check.py), no drawing
(history_charts.py).
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone

import comparison
import gbench
import history_charts
import history_check
import history_db

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:")

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.new-error td,tr.regression td{background:#fde8e8}tr.improvement td{background:#e8f6e8}
figure{margin:1em 0;border-top:1px solid #ddd}figure svg{width:100%;max-width:1000px;height:auto}
figcaption{font-size:12px;color:#555}td.name{word-break:break-all;font-size:12px;max-width:40em}
td.msg{font-size:12px;max-width:25em}#filter{width:30em;padding:3px}
#tip{position:fixed;display:none;background:#ffe;border:1px solid #999;padding:3px 6px;
font-size:12px;pointer-events:none}.ref{font-weight:bold}small{color:#666}
"""

SCRIPT = """
(function(){
var data=JSON.parse(document.getElementById('history-data').textContent);
var filter=document.getElementById('filter');
filter.addEventListener('input',function(){
  var q=filter.value.toLowerCase();
  document.querySelectorAll('.filterable tbody tr, figure.chart').forEach(function(el){
    var text=(el.getAttribute('data-text')||el.textContent).toLowerCase();
    el.style.display=(q===''||text.indexOf(q)>=0)?'':'none';
  });
});
var tip=document.getElementById('tip');
document.querySelectorAll('figure.chart svg').forEach(function(svg){
  var meta=data.charts[svg.parentNode.id];
  svg.addEventListener('mousemove',function(ev){
    var box=svg.getBoundingClientRect();
    var f=(ev.clientX-box.left)/box.width;
    var x=Math.round(meta.xmin+(f-meta.x0)/(meta.x1-meta.x0)*(meta.xmax-meta.xmin));
    var run=meta.runs[String(x)];
    if(!run){tip.style.display='none';return;}
    tip.textContent='run '+x+': commit '+run[0]+', '+run[1]+(run[2]?' ('+run[2]+')':'');
    tip.style.left=(ev.clientX+12)+'px';tip.style.top=(ev.clientY+12)+'px';
    tip.style.display='block';
  });
  svg.addEventListener('mouseleave',function(){tip.style.display='none';});
});
})();
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def fmt_value(value, unit) -> str:
    """A value for a cell: times as gbench formats them, other numbers to 4 digits."""
    if value is None:
        return "-"
    if unit == history_db.TIME_UNIT:
        return gbench.format_seconds(value)
    return f"{value:.4g}" + (f" {unit}" if unit and len(unit) < 12 else "")


def fmt_pct(value) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def table(table_id: str, header: list, rows: list) -> str:
    """A filterable table: rows are (css class, [cell html])."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(f'<tr class="{cls}">' + "".join(cells) + "</tr>" for cls, cells in rows)
    return (f'<table id="{table_id}" class="filterable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def entry_rows(entries: list, chart_of: dict) -> list:
    rows = []
    for e in entries:
        chart = chart_of.get((e.series.family, e.series.machine))
        link = f'<a href="#{chart}">chart</a>' if chart else ""
        flag = e.flag
        rows.append((e.klass.replace(" ", "-"), [
            f"<td>{esc(e.machine_name)}</td>", f'<td class="name">{esc(e.series.benchmark)}</td>',
            f"<td>{esc(e.series.metric)}</td>", f"<td>{esc(e.klass)}</td>",
            f'<td class="num">{fmt_pct(flag.change_pct if flag else None)}</td>',
            f'<td class="num">{fmt_value(flag.median if flag else None, e.series.unit)}</td>',
            f'<td class="num">{fmt_value(e.newest.value, e.series.unit)}</td>',
            f"<td>{esc(e.newest.run.commit or 'unknown')} {esc(e.newest.run.date)}</td>",
            '<td class="msg">' + esc("; ".join(e.software_change + [e.message or ""]).strip("; "))
            + "</td>",
            f"<td>{link}</td>"]))
    return rows


ENTRY_HEADER = ["machine", "benchmark", "metric", "class", "change", "baseline median",
                "newest", "newest run", "changed with / message", ""]


def newest_ok(series):
    return next((p for p in reversed(series.points) if p.status == history_db.STATUS_OK), None)


def matrix(history, reference: str) -> str:
    """Benchmarks (lab configurations) x machines: the newest time and its ratio to the
    reference machine's (under 1: faster than the reference)."""
    machines = [reference] + sorted((m for m in history.runs if m != reference),
                                    key=lambda m: history.names[m])
    times: dict = {}
    for (machine, bench, metric), series in history.series.items():
        if metric == history_db.TIME_METRIC and machine in history.runs:
            point = newest_ok(series)
            if point is not None:
                times.setdefault(bench, {})[machine] = point.value
    header = ["benchmark"] + [history.names[m] + (" (reference)" if m == reference else "")
                              for m in machines]
    rows = []
    for bench in sorted(times):
        cells = [f'<td class="name">{esc(bench)}</td>']
        for machine in machines:
            value = times[bench].get(machine)
            ratio = comparison.calculate_ratio(times[bench].get(reference), value)
            text = "-" if value is None else gbench.format_seconds(value)
            if value is not None and ratio is not None and machine != reference:
                text += f" <small>x{ratio:.2f}</small>"
            cells.append(f'<td class="num{" ref" if machine == reference else ""}">{text}</td>')
        rows.append(("", cells))
    return table("matrix", header, rows)


def compact(entry) -> dict:
    """What the page embeds of a classified series."""
    flag = entry.flag
    return {"machine": entry.series.machine, "machine_name": entry.machine_name,
            "benchmark": entry.series.benchmark, "metric": entry.series.metric,
            "class": entry.klass, "baseline_median": flag.median if flag else None,
            "newest_value": entry.newest.value,
            "change_pct": flag.change_pct if flag else None,
            "software_change": entry.software_change}


def build_page(history, entries: list, reference: str) -> str:
    """The whole HTML document."""
    charts = history_charts.family_charts(history, entries)
    chart_of = {(c.family, c.machine): c.chart_id for c in charts}
    failing = [e for e in entries if e.klass in history_check.FAILING]
    watch = [e for e in entries
             if e.klass in (history_check.SUSPECTED, history_check.IMPROVEMENT)]
    counts = history_check.counts(entries)
    data = {"series": [compact(e) for e in entries],
            "charts": {c.chart_id: c.meta for c in charts},
            "machines": history.names, "reference": reference}
    # "</" would end the script element early; JSON allows "<\\/" for it.
    embedded = json.dumps(comparison.json_safe(data), separators=(",", ":"),
                          allow_nan=False).replace("</", "<\\/")
    runs = sum(len(r) for r in history.runs.values())
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    figures = []
    for chart in charts:
        notes = "".join(f"<li>{esc(n)}</li>" for n in chart.notes)
        text = " ".join([chart.family, chart.machine_name] + [b + " " + m for b, m in chart.series])
        figures.append(
            f'<figure class="chart" id="{chart.chart_id}" data-text="{esc(text)}">{chart.svg}'
            f"<figcaption>{esc(chart.family)} on {esc(chart.machine_name)}"
            f" <small>({esc(chart.machine)})</small>"
            + (f"<br>every line: {esc(chart.shared)}" if chart.shared else "")
            + (f"<ul>{notes}</ul>" if notes else "") + "</figcaption></figure>")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        "<title>trainbench results history</title>", f"<style>{STYLE}</style></head><body>",
        "<h1>trainbench results history</h1>",
        f"<p>{runs} runs on {len(history.runs)} machines, {len(entries)} series judged: "
        f"{esc(summary)}. Generated {generated}.</p>",
        '<p><label>Filter: <input id="filter" type="search" '
        'placeholder="machine, benchmark or metric"></label></p><div id="tip"></div>',
        f"<h2>Regressions ({len(failing)})</h2>",
        table("regressions", ENTRY_HEADER, entry_rows(failing, chart_of)) if failing
        else "<p>None.</p>",
        f"<h2>Suspected changes and improvements ({len(watch)})</h2>",
        table("watch", ENTRY_HEADER, entry_rows(watch, chart_of)) if watch
        else "<p>None.</p>",
        f"<h2>Machines x lab configuration (newest time; x ratio to "
        f"{esc(history.names[reference])})</h2>",
        matrix(history, reference),
        f"<h2>Trends ({len(charts)} charts)</h2>",
        "<p>Each line is a series relative to its median; dashed lines mark a software "
        "change, triangles a change point, crosses an errored run.</p>",
        "".join(figures),
        f'<script type="application/json" id="history-data">{embedded}</script>',
        f"<script>{SCRIPT}</script></body></html>\n"])
