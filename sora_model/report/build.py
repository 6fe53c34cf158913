"""The lake's report: one static HTML page with PNG plots, from the lake's tables and the files their rows name.

Read with delta-rs (no JVM), written through the storage layer, so a lake in an object store gets its report
beside its tables. Each section is a function of a :class:`LakeView` that returns a :class:`Section`; a section
whose data does not exist yet (no training run, no decision, no scoring) says so instead of failing.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timezone

from sora_model.lake import storage
from sora_model.lake.migrate import keep_datasets_apart
from sora_model.report.sections import SECTIONS
from sora_model.report.view import LakeView, ReportConfig, Section

logger = logging.getLogger(__name__)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}nav a{margin-right:1em}section{margin-top:2.5em}
table{border-collapse:collapse;font-size:13px;margin:.8em 0}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%;display:block;margin:.8em 0}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:12px}"""


def render(sections: list[Section], lake: str, dataset: str) -> str:
    nav = "".join(f'<a href="#{x.anchor}">{html.escape(x.title)}</a>' for x in sections)
    body = "".join(f'<section id="{x.anchor}"><h2>{html.escape(x.title)}</h2>{"".join(x.body)}</section>'
                   for x in sections)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>sora_model report: {html.escape(lake)}</title>"
            f"<style>{_CSS}</style></head><body><h1>sora_model lake report</h1>"
            f"<p class='sub'>lake {html.escape(lake)}, dataset {html.escape(dataset)}, written {made}</p>"
            f"<nav>{nav}</nav>{body}</body></html>")


def write_report(cfg: ReportConfig) -> str:
    """Write index.html and its PNGs into ``cfg.out``; returns the URI of index.html."""
    for table in ("videos", "rejects"):  # a lake an earlier release wrote: rows per dataset first
        keep_datasets_apart(cfg.lake_uri, table)
    view = LakeView(cfg)
    sections = []
    for make in SECTIONS:
        logger.info("report: %s", make.__name__.removesuffix("_section"))
        sections.append(make(view))
    for section in sections:
        for name, png in section.figures.items():
            storage.write_bytes(storage.join(cfg.out, name), png)
    index = storage.join(cfg.out, "index.html")
    storage.write_text(index, render(sections, view.layout.root, cfg.dataset))
    return index
