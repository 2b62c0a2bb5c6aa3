"""The overview's charts: server-rendered SVG (pygal), inlined in the page, with no script.

pygal always embeds a small ``<script>`` holding its tooltip configuration; the console ships no
JavaScript (and loads nothing from elsewhere), so the script and pygal's comments are cut out
of the SVG. The SVG keeps only a ``viewBox``, so it scales to the width of a phone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

from billhook.analytics.schemas import Interval, SeriesPoint
from billhook.kit.formatting import format_date, format_money
from billhook.kit.money import decimals

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d232b",
    foreground_strong="#1d232b",
    foreground_subtle="#5b6572",
    opacity=".85",
    opacity_hover="1",
    colors=("#2452c4", "#1d6b3a", "#8a5a00", "#b3261e", "#7a3db8", "#0f7c86"),
    font_family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    value_font_size=12,
)


def _label(point: SeriesPoint, interval: Interval) -> str:
    if interval == "month":
        return format_date(point.start, "medium").replace(f" {point.start.day},", "")  # "Dec 2026"
    return format_date(point.start, "medium")


def _config(chart: pygal.graph.graph.Graph, labels: list[str]) -> None:
    chart.x_labels = labels
    chart.x_label_rotation = 30
    chart.show_minor_x_labels = False
    chart.x_labels_major_count = 6
    chart.legend_at_bottom = True
    chart.legend_at_bottom_columns = 3
    chart.print_values = False
    chart.js = []


def _svg(chart: pygal.graph.graph.Graph) -> Markup:
    rendered = chart.render(is_unicode=True)
    clean = _COMMENT.sub("", _SCRIPT.sub("", rendered))
    return Markup(clean)  # noqa: S704 (pygal's own SVG, built from numbers and our labels, which it escapes)


def _money_axis(currency: str) -> Callable[[float | None], str]:
    places = decimals(currency)

    def shown(value: float | None) -> str:
        return "" if value is None else format_money(round(value * 10**places), currency)

    return shown


def _major(amount: int, currency: str) -> float:
    return float(amount) / float(10 ** decimals(currency))


def _chart(kind: type[pygal.graph.graph.Graph], title: str) -> pygal.graph.graph.Graph:
    return kind(
        style=STYLE,
        width=640,
        height=320,
        title=title,
        disable_xml_declaration=True,
        explicit_size=False,
        js=[],
    )


def mrr_chart(series: Sequence[SeriesPoint], interval: Interval, currency: str) -> Markup:
    chart = _chart(pygal.Line, f"MRR ({currency.upper()})")
    _config(chart, [_label(point, interval) for point in series])
    chart.value_formatter = _money_axis(currency)
    chart.add("MRR", [_major(point.mrr, currency) for point in series])
    return _svg(chart)


def movements_chart(series: Sequence[SeriesPoint], interval: Interval, currency: str) -> Markup:
    chart = _chart(pygal.StackedBar, f"MRR movements ({currency.upper()})")
    _config(chart, [_label(point, interval) for point in series])
    chart.value_formatter = _money_axis(currency)
    for name in ("new", "expansion", "reactivation", "contraction", "churn"):
        chart.add(name.capitalize(), [_major(getattr(point.movements, name), currency) for point in series])
    return _svg(chart)


def subscribers_chart(series: Sequence[SeriesPoint], interval: Interval) -> Markup:
    chart = _chart(pygal.Line, "Subscribers")
    _config(chart, [_label(point, interval) for point in series])
    chart.value_formatter = lambda value: "" if value is None else f"{value:,.0f}"
    chart.add("Active", [point.active_subscriptions for point in series])
    chart.add("Trialing", [point.trialing_subscriptions for point in series])
    return _svg(chart)


def payments_chart(series: Sequence[SeriesPoint], interval: Interval) -> Markup:
    chart = _chart(pygal.Bar, "Failed and recovered payments")
    _config(chart, [_label(point, interval) for point in series])
    chart.value_formatter = lambda value: "" if value is None else f"{value:,.0f}"
    chart.add("Failed", [point.failed_payments for point in series])
    chart.add("Recovered", [point.recovered_payments for point in series])
    return _svg(chart)
