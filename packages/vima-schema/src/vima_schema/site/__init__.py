"""Static episode sites: what `vima-convert view` and `vima-eval view` write.

A site opens from the file system (no server): `index.html` lists the episodes with filters
(the rows live in `data/index-NNN.js`, `INDEX_CHUNK` rows each, shown a page at a time by
`assets/viewer.js`), and every page in `pages/` shows one scene: one column (`Take`) per
episode on it (a dataset's episode, or the runs of several checkpoints or perturbations on the
same scene side by side), each with its prompt (text with its images inline, the original
beside it when a perturbation changed it), the front and top frames of every step and each
action drawn on the top view. Images are JPEG files in `media/`, hard-linked from where they
were recorded when possible. The site is written into a fresh sibling folder and swapped in
whole, so a reader never sees half a site; a folder that is not such a site is never replaced.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vima_schema.atomic import replace_directory, temporary_sibling
from vima_schema.enums import PlaceholderType, View
from vima_schema.layout import PLACEHOLDER_PATTERN
from vima_schema.models import FRAME_HEIGHT, FRAME_WIDTH, PromptAsset

SITE_FILE = "site.json"
SITE_SCHEMA = "vima-schema/episode-site"
#: Index rows per data file (the index loads them as scripts: fetch() is barred on file://).
INDEX_CHUNK = 1000
JPEG_QUALITY = 85
#: Prompt images are shown at this height (pixels) inside the text.
PROMPT_IMAGE_HEIGHT = 48
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(*parts: object) -> str:
    """A file-name-safe identifier of `parts` (`L1/rotate/7` -> `L1-rotate-7`)."""
    return _SLUG.sub("-", "-".join(str(p) for p in parts)).strip("-")


def top_pixel(x: float, y: float) -> tuple[float, float]:
    """Table position (metres) -> (column, row) on the 256 x 128 top view: VIMA-Bench's
    near-orthographic top camera sees x 0.25..0.75 m down the rows and y -0.5..0.5 m across."""
    return (y + 0.5) * FRAME_WIDTH, (x - 0.25) / 0.5 * FRAME_HEIGHT


def prompt_image(asset: PromptAsset, view: View, margin: int = 6) -> np.ndarray:
    """A prompt asset's RGB image (CHW) as shown inline: an object's image cropped to the
    object (its segmentation) with `margin` pixels around it; scenes and frames whole."""
    rgb = asset.rgb[view]
    segm = asset.segm.get(view)
    if asset.placeholder_type is not PlaceholderType.object or segm is None:
        return rgb
    ids = [o.obj_id for o in asset.obj_info]
    rows, cols = np.nonzero(np.isin(segm, ids))
    if not len(rows):
        return rgb
    top, left = max(int(rows.min()) - margin, 0), max(int(cols.min()) - margin, 0)
    return rgb[:, top : int(rows.max()) + margin + 1, left : int(cols.max()) + margin + 1]


@dataclass(frozen=True)
class Marker:
    """One pick-and-place drawn on a top view: `kind` 'action' (what was done) or 'oracle'."""

    kind: str
    pick: tuple[float, float]
    place: tuple[float, float]

    @classmethod
    def of(cls, kind: str, action: dict[str, Any]) -> Marker:
        """From an action dict with `pose0_position` / `pose1_position` (x, y[, z])."""
        pick, place = action["pose0_position"], action["pose1_position"]
        return cls(kind, (float(pick[0]), float(pick[1])), (float(place[0]), float(place[1])))


@dataclass
class Step:
    """One observation: its frames (media paths, None if absent) and the action taken from it."""

    front: str | None
    top: str | None
    markers: list[Marker] = field(default_factory=list)


@dataclass
class Prompt:
    """A prompt: text with `{placeholder}`s, each placeholder's image (media path), and which
    part the model could not attend to (`mask`: 'none', 'text', 'visual' or 'both')."""

    text: str
    images: dict[str, str] = field(default_factory=dict)
    mask: str = "none"


@dataclass
class Take:
    """One episode in a page's column: label, outcome, details, prompt(s) and steps."""

    label: str
    outcome: str
    success: bool | None
    prompt: Prompt
    original: Prompt | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    note: str = ""
    prompt_caption: str = "prompt"


@dataclass
class Page:
    """One scene: its page name (`slug`), title and takes side by side."""

    slug: str
    title: str
    takes: list[Take]


@dataclass
class Column:
    """An index column: row key, header, and whether the index offers it as a filter."""

    key: str
    label: str
    facet: bool = False


class SiteError(ValueError):
    """An output folder that holds something other than an episode site."""


def check_output(out: Path) -> Path:
    """`out` when a site may be written there (absent, empty, or an earlier site); else
    `SiteError` (commands check this before their work starts)."""
    out = Path(out)
    occupied = out.exists() and (not out.is_dir() or any(out.iterdir()))
    if occupied and not (out / SITE_FILE).is_file():
        raise SiteError(f"{out}: exists and is not an episode site (no {SITE_FILE})")
    return out


class SiteWriter:
    """Writes one site into a fresh folder next to `out`; `finish` swaps it in.

    Use as a context manager: the half-written folder is removed when anything raises.
    """

    def __init__(self, out: Path, title: str) -> None:
        out = check_output(out)
        self.out, self.title = out, title
        self.root = temporary_sibling(out)
        for name in ("assets", "data", "media", "pages"):
            (self.root / name).mkdir()
        self.pages = 0

    def __enter__(self) -> SiteWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    # -- media ----------------------------------------------------------------------------------
    def media_bytes(self, name: str, data: bytes) -> str:
        """Store encoded image bytes as `media/<name>`; the path relative to a page."""
        path = self.root / "media" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"../media/{name}"

    def media_array(self, name: str, image: np.ndarray) -> str:
        """Store an RGB image (CHW or HWC uint8) as JPEG `media/<name>`."""
        hwc = image.transpose(1, 2, 0) if image.ndim == 3 and image.shape[0] == 3 else image
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(hwc)).save(buffer, "JPEG", quality=JPEG_QUALITY)
        return self.media_bytes(name, buffer.getvalue())

    def media_file(self, name: str, source: Path) -> str:
        """Hard-link (or, across file systems, copy) an image file as `media/<name>`."""
        path = self.root / "media" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, path)
        except OSError:
            shutil.copyfile(source, path)
        return f"../media/{name}"

    # -- pages ----------------------------------------------------------------------------------
    def page(self, page: Page) -> str:
        """Write `pages/<slug>.html`; its address relative to the index."""
        name = f"pages/{page.slug}.html"
        (self.root / name).write_text(render_page(page, self.title), encoding="utf-8")
        self.pages += 1
        return name

    def figure(self, source: Path) -> str:
        """Copy a figure (PNG) into `assets/`; its address relative to the index."""
        name = f"assets/{source.name}"
        shutil.copyfile(source, self.root / name)
        return name

    def finish(
        self,
        columns: Sequence[Column],
        rows: Sequence[dict[str, Any]],
        *,
        summary: str = "",
        figures: Sequence[str] = (),
        meta: dict[str, Any] | None = None,
    ) -> Path:
        """Write the index (rows in the given order; each row has `href`), the assets and
        `site.json`, then swap the folder in; returns `out`."""
        keys = [c.key for c in columns]
        chunks = [rows[i : i + INDEX_CHUNK] for i in range(0, len(rows), INDEX_CHUNK)]
        for number, chunk in enumerate(chunks):
            data = [[row.get(k) for k in keys] + [row["href"]] for row in chunk]
            text = f"VIEWER.add({json.dumps(data, separators=(',', ':'))});\n"
            (self.root / f"data/index-{number:03d}.js").write_text(text, encoding="utf-8")
        for asset in ("viewer.js", "viewer.css"):
            source = resources.files(__package__).joinpath(asset)
            (self.root / "assets" / asset).write_bytes(source.read_bytes())
        scripts = [f"data/index-{n:03d}.js" for n in range(len(chunks))]
        index = render_index(self.title, columns, scripts, summary, figures)
        (self.root / "index.html").write_text(index, encoding="utf-8")
        document = {"schema": SITE_SCHEMA, "version": 1, "title": self.title,
                    "episodes": len(rows), "pages": self.pages, **(meta or {})}  # fmt: skip
        (self.root / SITE_FILE).write_text(json.dumps(document, indent=1) + "\n")
        replace_directory(self.root, self.out, durable=False)
        return self.out


def serve(folder: Path, port: int) -> None:
    """Serve `folder` on http://127.0.0.1:`port`/ until Ctrl-C (the site also opens without)."""
    import contextlib
    import functools
    import logging
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        logging.getLogger(__name__).info(
            "serving %s on http://127.0.0.1:%d/ (Ctrl-C stops)", folder, server.server_port
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def table_html(headers: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "") -> str:
    """A plain HTML table (cells escaped)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    title = f"<caption>{_e(caption)}</caption>" if caption else ""
    return (
        f'<table class="summary">{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def render_index(
    title: str, columns: Sequence[Column], scripts: Sequence[str], summary: str,
    figures: Sequence[str],
) -> str:  # fmt: skip
    """The index page: filters, the paginated episode table, the summary and figures."""
    spec = json.dumps([{"key": c.key, "label": c.label, "facet": c.facet} for c in columns])
    loads = "".join(f'<script src="{_e(s)}"></script>' for s in scripts)
    pictures = "".join(f'<img class="figure" src="{_e(f)}" alt="statistics">' for f in figures)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<link rel="stylesheet" href="assets/viewer.css"></head>
<body class="index">
<h1>{_e(title)}</h1>
<form id="filters"></form>
<p id="count"></p>
<table id="episodes"><thead></thead><tbody></tbody></table>
<nav id="pager"><button type="button" id="previous">previous</button>
<span id="page"></span><button type="button" id="next">next</button></nav>
<section id="summary">{summary}{pictures}</section>
<script src="assets/viewer.js"></script>
<script>VIEWER.columns({spec});</script>
{loads}
<script>VIEWER.start();</script>
</body></html>
"""


def render_page(page: Page, site_title: str) -> str:
    """One scene's page: its takes side by side."""
    takes = "".join(_take(take, n) for n, take in enumerate(page.takes))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(page.title)}</title>
<link rel="stylesheet" href="../assets/viewer.css"></head>
<body class="episode">
<p><a href="../index.html">&larr; {_e(site_title)}</a></p>
<h1>{_e(page.title)}</h1>
<p class="legend"><span class="key action">&#9679; pick &#9632; place: action taken</span>
<span class="key oracle">&#9675; pick &#9633; place: the oracle's action</span></p>
<div class="takes">{takes}</div>
</body></html>
"""


def _take(take: Take, number: int) -> str:
    verdict = "unknown" if take.success is None else ("success" if take.success else "failure")
    details = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in take.details)
    prompts = _prompt(take.prompt, take.prompt_caption)
    if take.original is not None:
        prompts += _prompt(take.original, "original prompt")
    steps = "".join(_step(step, i, len(take.steps)) for i, step in enumerate(take.steps))
    if not take.steps:
        steps = f'<p class="note">{_e(take.note or "no frames recorded for this episode")}</p>'
    return f"""<section class="take" id="take-{number}">
<h2>{_e(take.label)}</h2>
<p class="outcome {verdict}">{_e(take.outcome)}</p>
<dl>{details}</dl>
<div class="prompts">{prompts}</div>
<div class="steps">{steps}</div>
</section>"""


def _prompt(prompt: Prompt, caption: str) -> str:
    parts = []
    for i, piece in enumerate(PLACEHOLDER_PATTERN.split(prompt.text)):
        if i % 2 == 0:
            if piece:
                parts.append(f'<span class="text">{_e(piece)}</span>')
        elif piece in prompt.images:
            parts.append(
                f'<img class="prompt-image" src="{_e(prompt.images[piece])}" alt="{{{_e(piece)}}}"'
                f' title="{{{_e(piece)}}}" height="{PROMPT_IMAGE_HEIGHT}">'
            )
        else:
            parts.append(f'<span class="placeholder">{{{_e(piece)}}}</span>')
    mask = "" if prompt.mask == "none" else f" masked-{_e(prompt.mask)}"
    note = "" if prompt.mask == "none" else f" (masked: {_e(prompt.mask)})"
    return (
        f'<figure class="prompt{mask}"><figcaption>{_e(caption)}{note}</figcaption>'
        f"<p>{''.join(parts)}</p></figure>"
    )


def _step(step: Step, index: int, count: int) -> str:
    last = " (final)" if index == count - 1 else ""
    front = top = ""
    if step.front:
        front = f'<img class="frame front" src="{_e(step.front)}" alt="front {index}">'
    if step.top:
        top = (
            f'<div class="top-view"><img class="frame top" src="{_e(step.top)}" alt="top {index}">'
            f'<svg viewBox="0 0 {FRAME_WIDTH} {FRAME_HEIGHT}">{_markers(step.markers)}</svg></div>'
        )
    return f'<figure class="step"><figcaption>step {index}{last}</figcaption>{front}{top}</figure>'


def _markers(markers: Sequence[Marker]) -> str:
    out = []
    for marker in markers:
        (px, py), (qx, qy) = top_pixel(*marker.pick), top_pixel(*marker.place)
        kind = _e(marker.kind)
        out.append(
            f'<line class="marker path {kind}" x1="{px:.1f}" y1="{py:.1f}" x2="{qx:.1f}" '
            f'y2="{qy:.1f}"/><circle class="marker pick {kind}" cx="{px:.1f}" cy="{py:.1f}" '
            f'r="5"><title>{kind} pick ({marker.pick[0]:.3f}, {marker.pick[1]:.3f}) m</title>'
            f'</circle><rect class="marker place {kind}" x="{qx - 5:.1f}" y="{qy - 5:.1f}" '
            f'width="10" height="10"><title>{kind} place ({marker.place[0]:.3f}, '
            f"{marker.place[1]:.3f}) m</title></rect>"
        )
    return "".join(out)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)
