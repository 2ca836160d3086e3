"""A trend (``[Period]``) as an SVG bar chart, drawn on the server.

Each period with matches is a link (``href(period)``) around its bars: paragraphs as the
bar, articles as a darker bar inside it, on the same scale. Every piece of text is
escaped; colours come from the stylesheet (classes), so the page's Content-Security-Policy
needs no inline styles.
"""

from __future__ import annotations

from typing import Callable

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 140
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 10, 24
MAX_LABELS = 9


def _labels(names: list[str]) -> dict[int, str]:
    """Bar index → label under the axis: at most ``MAX_LABELS``, evenly spaced; by month,
    on a long axis, the Januaries, labelled with their year."""
    n = len(names)
    if n <= MAX_LABELS:
        return {i: name for i, name in enumerate(names)}
    if len(names[0]) == 7:
        januaries = [i for i, name in enumerate(names) if name.endswith("-01")]
        if januaries:
            step = -(-len(januaries) // MAX_LABELS)
            return {i: names[i][:4] for i in januaries[::step]}
    step = -(-n // MAX_LABELS)
    return {i: names[i] for i in range(0, n, step)}


def timeline_svg(periods, href: Callable[[str], str], title: str) -> Markup:
    """The SVG of the dated ``periods``; ``title`` names it for screen readers."""
    dated = [p for p in periods if p.period is not None]
    if not dated:
        return Markup("")
    n = len(dated)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    gap = min(3.0, slot * 0.2)
    largest = max(p.paragraphs for p in dated) or 1
    labels = _labels([p.period for p in dated])
    out = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" role="group" aria-label="{escape(title)}"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end">{largest}</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, p in enumerate(dated):
        x = LEFT + i * slot + gap / 2
        w = max(slot - gap, 1.0)
        if p.paragraphs:
            h = max(plot_h * p.paragraphs / largest, 1.5)
            ha = max(plot_h * p.articles / largest, 1.5)
            tip = f"{p.period}: {p.paragraphs} đoạn, {p.articles} bài"
            out.append(
                f'<a class="bar-link" href="{escape(href(p.period))}" data-period="{escape(p.period)}"'
                f' aria-label="{escape(tip)}"><title>{escape(tip)}</title>'
                f'<rect class="hit-area" x="{x:.1f}" y="{TOP}" width="{w:.1f}" height="{plot_h}"/>'
                f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{w:.1f}" height="{h:.1f}"/>'
                f'<rect class="bar-articles" x="{x + w * 0.3:.1f}" y="{TOP + plot_h - ha:.1f}"'
                f' width="{w * 0.4:.1f}" height="{ha:.1f}"/></a>'
            )
        if i in labels:
            out.append(
                f'<text class="tick" x="{x + w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                f"{escape(labels[i])}</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))
