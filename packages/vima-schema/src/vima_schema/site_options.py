"""The options both `view` commands share (vima-convert's and vima-eval's), and what they do
once the site is written (apart from `vima_schema.site`, which imports numpy and Pillow, so that
`--help` stays fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Serve = Annotated[bool, typer.Option("--serve", help="Serve the site on localhost until Ctrl-C.")]
Port = Annotated[int, typer.Option("--port", help="Port of --serve (0: any free).")]
Screenshot = Annotated[
    Path | None,
    typer.Option(
        "--screenshot",
        metavar="DIR",
        help="Also save DIR/index.png and DIR/episode.png (the first row's page), taken in "
        "headless Chromium. [default: none]",
    ),
]


def check_view_options(screenshot: Path | None) -> None:
    """Before the site is written: ValueError (exit 2) if --screenshot cannot be honoured."""
    if screenshot is not None:
        from vima_schema.site.browser import require_browser

        require_browser()


def after_view(site: Path, serve: bool, port: int, screenshot: Path | None) -> None:
    """Once the site is written: take the screenshots, then serve it (until Ctrl-C)."""
    if screenshot is not None:
        from vima_schema.site.browser import screenshots

        screenshots(site, screenshot)
    if serve:
        from vima_schema.site import serve as serve_site

        serve_site(site, port)
