"""The report's public calls: the static site, one self-contained HTML file, and summary.md for a
pull-request comment, each from the store or from an already loaded SiteContext.

Site layout: `index.html`, `platforms/<platform>.html`, `models/<platform>--<model>.html`, and
`assets/` holding Plotly's JavaScript (written once for the whole site), `parity.js` and
`parity.css`. File names come from `pages.slug()`, so a name can never lead outside the folder.
The same database renders the same bytes, bar the one "Generated at" line of each page.

The work is split by job: reporter.pages (pages, links, charts per page), reporter.templating
(Jinja), reporter.site_files (all-or-nothing writing) and reporter.summary (summary.md).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from markupsafe import Markup

from reporter import site_files
from reporter.analysis import ChangePoints, SiteContext, load_site
from reporter.pages import SiteMap, linker, relative, views
from reporter.site_files import ASSETS, PLOTLY_JS, RenderError
from reporter.store import Store
from reporter.summary import summary_markdown
from reporter.templating import environment, stamp

__all__ = ["RenderError", "render_single_file", "render_site", "summary_markdown", "write_report", "write_single_file"]


def write_report(
    store: Store, out: Path, *, change_points: ChangePoints | None = None, generated_at: dt.datetime | None = None
) -> Path:
    """Render the whole site for `store` into `out` (created if needed); returns index.html's path.

    change_points: markers for the model pages' history charts, keyed by (model, platform).
    generated_at: the time stamped on each page (default: now, UTC).
    Raises RenderError when `out` exists and is not a folder, or cannot be written.
    """
    return render_site(load_site(store, change_points=change_points), out, generated_at=generated_at)


def write_single_file(
    store: Store, path: Path, *, change_points: ChangePoints | None = None, generated_at: dt.datetime | None = None
) -> Path:
    """Render every page into one self-contained HTML file (Plotly inlined once); returns `path`."""
    return render_single_file(load_site(store, change_points=change_points), path, generated_at=generated_at)


def render_site(site: SiteContext, out: Path, *, generated_at: dt.datetime | None = None) -> Path:
    """Write `site` as a folder of pages, replacing `out` only once every page is written
    (reporter.site_files); returns index.html's path. Raises RenderError as write_report does."""
    site_files.write_site(out, lambda folder: _render_into(site, folder, stamp(generated_at)))
    return out / SiteMap.index.path


def _render_into(site: SiteContext, folder: Path, generated_at: str) -> None:
    template = environment().get_template("page.html")
    for view in views(site, SiteMap()):
        text = template.render(
            view=view,
            url=linker(view.page),
            sitemap=SiteMap(),
            generated_at=generated_at,
            asset=lambda name, page=view.page: relative(page, f"assets/{name}"),
        )
        site_files.write(folder, view.page.path, text)
    site_files.copy_assets(folder / "assets")
    site_files.write(folder, "summary.md", summary_markdown(site))


def render_single_file(site: SiteContext, path: Path, *, generated_at: dt.datetime | None = None) -> Path:
    """Write `site` as one HTML file: each page a section, scripts and styles inlined once; returns
    `path`. Raises RenderError when it cannot be written."""
    inline = {"css": ASSETS / "parity.css", "js": ASSETS / "parity.js", "plotly": PLOTLY_JS}
    text = (
        environment()
        .get_template("single.html")
        .render(
            views=list(views(site, SiteMap())),
            url=lambda page: f"#{page.anchor}",
            sitemap=SiteMap(),
            inline={name: Markup(site_files.read_asset(asset)) for name, asset in inline.items()},
            generated_at=stamp(generated_at),
            asset=None,
        )
    )
    site_files.write_file(path, text)
    return path
