"""The progress chart: each goal's 1–10 scores over time as an SVG line chart (pure).

Drawn on the server, so it reads without JavaScript; the page puts a table of the same
scores beside it (the text alternative), and the SVG itself is one ``role="img"`` with a
title and a description. Goals differ by marker shape and line dash as well as colour,
so the chart also reads in grey. Text goes through ElementTree, which escapes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET

WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 34, 14, 14, 30
LOW, HIGH = 1, 10
COLOURS = ("#1d5fa8", "#a34d00", "#2a7a2e", "#7a3b8f")  # >= 4.5:1 on white
DASHES = ("", "6 4", "2 3", "8 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")


@dataclass(frozen=True)
class Point:
    at: datetime
    score: int
    source: str  # checkin, review, coachee, ...


@dataclass(frozen=True)
class Series:
    title: str
    points: tuple[Point, ...]


def _x(at: datetime, first: datetime, last: datetime) -> float:
    span = (last - first).total_seconds()
    inner = WIDTH - LEFT - RIGHT
    if span <= 0:
        return LEFT + inner / 2
    return LEFT + inner * (at - first).total_seconds() / span


def _y(score: int) -> float:
    inner = HEIGHT - TOP - BOTTOM
    return TOP + inner * (HIGH - score) / (HIGH - LOW)


def _marker(parent: ET.Element, shape: str, x: float, y: float, colour: str) -> ET.Element:
    r = 4.5
    if shape == "circle":
        return ET.SubElement(parent, "circle", cx=f"{x:.1f}", cy=f"{y:.1f}", r=f"{r}", fill=colour)
    if shape == "square":
        return ET.SubElement(parent, "rect", x=f"{x - r:.1f}", y=f"{y - r:.1f}", width=f"{2 * r}",
                             height=f"{2 * r}", fill=colour)
    if shape == "triangle":
        points = f"{x:.1f},{y - r - 1:.1f} {x - r - 1:.1f},{y + r:.1f} {x + r + 1:.1f},{y + r:.1f}"
    else:
        points = f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} {x:.1f},{y + r + 1:.1f} {x - r - 1:.1f},{y:.1f}"
    return ET.SubElement(parent, "polygon", points=points, fill=colour)


def _axes(svg: ET.Element, first: datetime, last: datetime, day: Callable[[datetime], str]) -> None:
    grid = ET.SubElement(svg, "g", {"class": "grid", "stroke": "#c8c8c8", "stroke-width": "1"})
    labels = ET.SubElement(svg, "g", {"font-size": "12", "fill": "#333", "font-family": "sans-serif"})
    for score in (1, 4, 7, 10):
        y = f"{_y(score):.1f}"
        ET.SubElement(grid, "line", {"x1": str(LEFT), "x2": str(WIDTH - RIGHT), "y1": y, "y2": y})
        text = ET.SubElement(labels, "text", {"x": str(LEFT - 8), "y": f"{_y(score) + 4:.1f}", "text-anchor": "end"})
        text.text = str(score)
    base = str(HEIGHT - BOTTOM + 18)
    if first == last:
        ends = [(first, _x(first, first, last), "middle")]
    else:
        ends = [(first, float(LEFT), "start"), (last, float(WIDTH - RIGHT), "end")]
    for at, x, anchor in ends:
        text = ET.SubElement(labels, "text", {"x": f"{x:.1f}", "y": base, "text-anchor": anchor})
        text.text = day(at)


def render_svg(series: Sequence[Series], *, title: str, description: str, id_prefix: str,
               day: Callable[[datetime], str], label: Callable[[Point], str]) -> str:
    """The chart as an inline ``<svg>``; ``day`` formats an axis date, ``label`` a point's
    tooltip (date, score and source, in the reader's language)."""
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {WIDTH} {HEIGHT}", "role": "img",
        "class": "progress-chart", "aria-labelledby": f"{id_prefix}-title {id_prefix}-desc",
        "preserveAspectRatio": "xMidYMid meet",
    })
    ET.SubElement(svg, "title", id=f"{id_prefix}-title").text = title
    ET.SubElement(svg, "desc", id=f"{id_prefix}-desc").text = description
    moments = [p.at for s in series for p in s.points]
    if not moments:
        return ET.tostring(svg, encoding="unicode")
    first, last = min(moments), max(moments)
    _axes(svg, first, last, day)
    for n, goal in enumerate(series):
        colour, dash, shape = COLOURS[n % len(COLOURS)], DASHES[n % len(DASHES)], MARKERS[n % len(MARKERS)]
        group = ET.SubElement(svg, "g", {"class": f"goal goal-{n + 1}", "data-goal": goal.title})
        points = sorted(goal.points, key=lambda p: p.at)
        if len(points) > 1:
            path = " ".join(f"{_x(p.at, first, last):.1f},{_y(p.score):.1f}" for p in points)
            attrs = {"points": path, "fill": "none", "stroke": colour, "stroke-width": "2.5"}
            if dash:
                attrs["stroke-dasharray"] = dash
            ET.SubElement(group, "polyline", attrs)
        for point in points:
            mark = _marker(group, shape, _x(point.at, first, last), _y(point.score), colour)
            mark.set("data-score", str(point.score))
            ET.SubElement(mark, "title").text = label(point)
    return ET.tostring(svg, encoding="unicode")


def legend(series: Sequence[Series]) -> list[dict[str, str]]:
    """What the page's legend shows per goal: its colour, dash and marker shape."""
    return [{"title": s.title, "colour": COLOURS[n % len(COLOURS)], "dash": DASHES[n % len(DASHES)],
             "marker": MARKERS[n % len(MARKERS)]} for n, s in enumerate(series)]
