"""The interactive attack map (plotly): the conversation's text on hover.

Written as ``attack_map.html`` with ``plotly.min.js`` beside it (no CDN: nothing is
downloaded when the page opens). Hover text is HTML-escaped first: transcripts are
adversarial by design and plotly renders a subset of HTML in hover labels.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

HOVER_CHARS = 400


def hover_text(row: pd.Series) -> str:
    text = str(row["transcript"]).strip()
    if len(text) > HOVER_CHARS:
        text = text[:HOVER_CHARS] + " …"
    rating = row["rating"]
    head = f"attempt {int(row['attempt_id'])} · {row['model_type']} {row['size_label']} · " + (
        f"rating {rating:.0f}" if pd.notna(rating) else "unrated"
    )
    origin = row.get("attack_origin")
    if isinstance(origin, str) and origin:
        head += f" · {origin}"  # human, replay or the automated strategy
    return html.escape(head) + "<br>" + html.escape(text).replace("\n", "<br>")


def write_interactive_map(
    points: pd.DataFrame,
    clusters: pd.DataFrame,
    out: Path,
    *,
    max_points: int = 15_000,
    seed: int = 0,
) -> int:
    """Write the map; at most ``max_points`` points (a seeded sample). Returns the count."""
    import plotly.graph_objects as go

    shown = points
    if len(points) > max_points:
        shown = points.sample(max_points, random_state=seed)
    fig = go.Figure()
    for success, name, colour in (
        (False, "rating < 3", "#9ecae1"),
        (True, "rating >= 3", "#d62728"),
    ):
        part = shown[shown["success"] == success]
        fig.add_trace(
            go.Scattergl(
                x=part["x"],
                y=part["y"],
                mode="markers",
                name=name,
                marker={"size": 4, "color": colour, "opacity": 0.7},
                text=[hover_text(r) for _, r in part.iterrows()],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    for row in clusters[clusters["cluster"] >= 0].head(30).itertuples():
        members = points[points["cluster"] == row.cluster]
        fig.add_annotation(
            x=float(np.median(members["x"])),
            y=float(np.median(members["y"])),
            text=html.escape(str(row.label)),
            showarrow=False,
            bgcolor="rgba(255,255,255,0.7)",
        )
    fig.update_layout(
        title=f"Attack map ({len(shown)} of {len(points)} attempts); hover for the text",
        xaxis={"visible": False},
        yaxis={"visible": False},
        height=800,
        hoverlabel={"align": "left"},
    )
    fig.write_html(out, include_plotlyjs="directory", full_html=True)
    return len(shown)
