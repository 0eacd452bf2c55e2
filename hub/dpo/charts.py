"""Server-rendered SVG bar charts: no JavaScript and no style attributes (the CSP forbids
inline styles), only SVG presentation attributes. Each chart has a <title> and <desc>, and
pages show the same numbers in a table for screen readers and printing."""

from __future__ import annotations

from markupsafe import Markup, escape

# GOV.UK Design System colours, chosen to stay distinguishable side by side.
PALETTE = ("#1d70b8", "#f47738", "#00703c", "#912b88", "#d4351c", "#505a5f", "#28a197")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 260, 48, 40, 28


def bar_chart(chart_id: str, title: str, labels: list[str],
              series: dict[str, list[int]]) -> Markup:
    """Grouped bars: one group per label, one bar per series, a legend along the top."""
    peak = max([1, *(v for values in series.values() for v in values)])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    group_w = plot_w / max(1, len(labels))
    bar_w = max(2.0, (group_w - 6) / max(1, len(series)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'class="hub-chart" id="{chart_id}">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{escape(_describe(labels, series))}</desc>']
    parts += _axes(peak, plot_h)
    for s, (name, values) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        parts.append(f'<rect x="{LEFT + s * 110}" y="6" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{LEFT + 14 + s * 110}" y="15" font-size="11">{escape(name)}</text>')
        for i, value in enumerate(values):
            h = plot_h * value / peak
            x = LEFT + i * group_w + 3 + s * bar_w
            parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(name)}, '
                         f'{escape(labels[i])}: {value}</title></rect>')
    for i, label in enumerate(labels):
        x = LEFT + i * group_w + group_w / 2
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every interpolated text is escaped  # nosec B704


def _axes(peak: int, plot_h: float) -> list[str]:
    base = TOP + plot_h
    return [f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - 8}" y2="{base}" stroke="#0b0c0c"/>',
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#0b0c0c"/>',
            f'<text x="{LEFT - 4}" y="{TOP + 4}" font-size="11" text-anchor="end">{peak}</text>',
            f'<text x="{LEFT - 4}" y="{base}" font-size="11" text-anchor="end">0</text>']


def _describe(labels: list[str], series: dict[str, list[int]]) -> str:
    if not labels:
        return "No data yet."
    totals = ", ".join(f"{name}: {sum(values)}" for name, values in series.items())
    return f"From {labels[0]} to {labels[-1]}. Totals: {totals}."
