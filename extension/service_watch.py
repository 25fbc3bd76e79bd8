"""The read-only watch view: the candidate's live notebook rendered by the service, scripts never run.

The candidate's server saves the shared notebook to the workspace a second or so after every
change (real-time collaboration saves on its own), outputs included. ``NotebookSnapshot`` reads
that file without following links (``mlinterview/safe_files.py``) and ``render_notebook`` turns
it into an HTML fragment the way Jupyter treats an untrusted notebook:

- code and text outputs are escaped text, never markup;
- ``text/html`` and Markdown go through an allow-list sanitizer (bleach): no ``<script>``, no
  ``style``/``on*`` attributes, no ``javascript:`` (or any non-http(s)/mailto) link, no forms,
  frames or embedded objects;
- images only as ``data:`` URIs of PNG, JPEG, GIF or SVG (an SVG shown through ``<img>`` cannot run
  script), after checking the payload is base64;
- every other MIME type (``application/javascript``, widgets, ...) is named, not shown.

The watch page's content security policy admits only the service's own scripts, so even a gap
in the sanitizer could not run candidate script on the service's origin.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import bleach
import mistune
from markupsafe import Markup, escape

from ..safe_files import UnsafeFileError, read_plain

MAX_NOTEBOOK_BYTES = 32 << 20
MAX_TEXT_CHARS = 20_000
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
SHOWN_TYPES = ("text/html", "image/svg+xml", *IMAGE_TYPES, "text/markdown", "text/latex", "text/plain")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "samp",
    "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
}
ALLOWED_ATTRIBUTES = {
    "*": ["class", "title", "align"],
    "a": ["href"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan"], "th": ["colspan", "rowspan"], "col": ["span"], "colgroup": ["span"],
    "ol": ["start"],
}
SAFE_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]+$")


def _attribute_allowed(tag: str, name: str, value: str) -> bool:
    if name in ALLOWED_ATTRIBUTES.get(tag, ()) or name in ALLOWED_ATTRIBUTES["*"]:
        if tag == "img" and name == "src":
            return bool(SAFE_DATA_IMAGE.match(value))  # no remote fetches, no other data: types
        return True
    return False


_cleaner = bleach.Cleaner(tags=ALLOWED_TAGS, attributes=_attribute_allowed, protocols={"http", "https", "mailto", "data"}, strip=True, strip_comments=True)
_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def sanitize_html(html: str) -> Markup:
    """Untrusted HTML reduced to an allow-list of inert tags and attributes."""
    cleaned = _cleaner.clean(html)
    # bleach keeps "data:" for <img> (checked above); a link to data: would be a way to ship a page
    cleaned = re.sub(r'href="data:[^"]*"', 'href="#"', cleaned)
    return Markup(cleaned)


def _text(value) -> str:
    text = "".join(value) if isinstance(value, list) else str(value or "")
    text = ANSI.sub("", text)
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + f"\n... ({len(text) - MAX_TEXT_CHARS} more characters not shown)"


def _image(mime: str, payload) -> Markup | None:
    data = "".join(payload) if isinstance(payload, list) else str(payload or "")
    if mime == "image/svg+xml":
        data = base64.b64encode(data.encode("utf-8")).decode("ascii")
    else:
        try:
            base64.b64decode(re.sub(r"\s", "", data), validate=True)
        except (binascii.Error, ValueError):
            return None
        data = re.sub(r"\s", "", data)
    return Markup('<img class="output-image" alt="{}" src="data:{};base64,{}">').format(mime, mime, data)


def render_output(output: dict) -> Markup:
    """One output, as Jupyter shows an untrusted one."""
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        return Markup('<pre class="output stream {}">{}</pre>').format(name, _text(output.get("text")))
    if kind == "error":
        trace = _text(output.get("traceback")) or f"{output.get('ename', '')}: {output.get('evalue', '')}"
        return Markup('<pre class="output error">{}</pre>').format(trace)
    if kind not in ("execute_result", "display_data"):
        return Markup("")
    data = output.get("data") or {}
    for mime in SHOWN_TYPES:
        if mime not in data:
            continue
        if mime == "text/html":
            return Markup('<div class="output html">{}</div>').format(sanitize_html(_text(data[mime])))
        if mime in IMAGE_TYPES or mime == "image/svg+xml":
            image = _image(mime, data[mime])
            if image is not None:
                return Markup('<div class="output image">{}</div>').format(image)
            continue
        if mime == "text/markdown":
            return Markup('<div class="output markdown">{}</div>').format(sanitize_html(_markdown(_text(data[mime]))))
        return Markup('<pre class="output text">{}</pre>').format(_text(data[mime]))
    hidden = ", ".join(sorted(data)) or "nothing"
    return Markup('<p class="output hidden muted">not shown here: {} (the watch view never runs scripts)</p>').format(hidden)


def render_notebook(notebook: dict) -> Markup:
    """The whole notebook as an inert HTML fragment: cells in order, their outputs after them."""
    parts = []
    for index, cell in enumerate(notebook.get("cells") or []):
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        source = _text(cell.get("source"))
        if kind == "markdown":
            parts.append(Markup('<section class="cell markdown" data-index="{}">{}</section>').format(index, sanitize_html(_markdown(source))))
            continue
        count = cell.get("execution_count") if kind == "code" else None
        outputs = Markup("").join(render_output(o) for o in (cell.get("outputs") or []) if isinstance(o, dict))
        parts.append(
            Markup('<section class="cell code" data-index="{}"><div class="prompt">[{}]</div><pre class="source">{}</pre>{}</section>').format(
                index, count if isinstance(count, int) else " ", source, outputs
            )
        )
    return Markup("\n").join(parts)


@dataclass(frozen=True)
class NotebookSnapshot:
    """The notebook as last saved: a stamp that changes with every save, and its parsed JSON."""

    stamp: str
    notebook: dict | None
    problem: str | None = None

    @property
    def saved_at(self) -> str | None:
        """When the file was last written (ISO, UTC), from the stamp."""
        try:
            mtime_ns = int(self.stamp.split("-")[1])
        except (IndexError, ValueError):
            return None
        return datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc).isoformat()


def read_notebook(workspace: Path, notebook_path: str) -> NotebookSnapshot:
    """Read ``notebook_path`` from ``workspace`` without following links; a problem says what is wrong."""
    relative = PurePosixPath(notebook_path)
    if relative.is_absolute() or ".." in relative.parts or not relative.name:
        return NotebookSnapshot("", None, f"{notebook_path}: not a notebook path inside the workspace")
    try:
        raw, status = read_plain(workspace, relative, MAX_NOTEBOOK_BYTES)
    except FileNotFoundError:
        return NotebookSnapshot("", None, f"{notebook_path} is not in the workspace (yet)")
    except UnsafeFileError as unsafe:
        return NotebookSnapshot("", None, f"{notebook_path} is not a regular file ({unsafe.strerror}); a link the candidate left is never followed")
    except (OSError, ValueError) as problem:
        return NotebookSnapshot("", None, f"{notebook_path} cannot be read: {problem}")
    stamp = f"{status.st_ino}-{status.st_mtime_ns}-{status.st_size}"
    try:
        notebook = json.loads(raw)
    except ValueError:
        return NotebookSnapshot(stamp, None, f"{notebook_path} is being saved or is not valid JSON; the next save will show")
    if not isinstance(notebook, dict):
        return NotebookSnapshot(stamp, None, f"{notebook_path} is not a notebook")
    return NotebookSnapshot(stamp, notebook)
