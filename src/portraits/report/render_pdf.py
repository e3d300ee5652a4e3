"""The report as an A4 PDF: WeasyPrint lays out the report's HTML with each chart's
static drawing (Matplotlib, :meth:`Chart.save`) embedded as a PNG ``data:`` URI.

Chinese text needs a CJK font that WeasyPrint (through fontconfig) can find. The
``mplfonts`` wheel ships Noto Sans CJK SC; it is declared with ``@font-face`` pointing at
the installed file, so nothing is downloaded and no system font is required.
"""

from __future__ import annotations

import base64
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Final

from portraits.report.render import static_html

if TYPE_CHECKING:
    from portraits.analytics.chart import Chart
    from portraits.report.model import Report, Section

CJK_FAMILY: Final = "Noto Sans CJK SC"
CJK_FILE: Final = "NotoSansCJKsc-Regular.otf"


def write_pdf(report: Report, path: Path, images: list[str] | None = None) -> Path:
    """Write ``report`` to ``path`` as an A4 PDF and return ``path``.

    Args:
        report: The built report.
        path: The PDF file to write.
        images: Its charts already drawn (:class:`ChartDrawer`), one ``data:`` URI per
            chart in reading order; drawn here when omitted.
    """
    import weasyprint  # type: ignore[import-untyped]

    if images is None:
        images = [chart_image(chart) for section in report.sections
                  for chart in section.charts]
    html = static_html(report, images, font_css=font_face_css())
    path.parent.mkdir(parents=True, exist_ok=True)
    weasyprint.HTML(string=html).write_pdf(path)
    return path


def chart_image(chart: Chart) -> str:
    """The chart drawn to a PNG (A4 width, 150 dpi), as a ``data:`` URI."""
    with tempfile.TemporaryDirectory(prefix="portraits-chart-") as folder:
        png = chart.save(Path(folder) / "chart.png", width=9.0, height=5.0, dpi=150)
        return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()


class ChartDrawer:
    """Draws the charts of each section handed to it on a thread of its own, while the
    caller goes on (building the next sections: their queries run in the engine, outside
    the GIL). Charts are drawn one at a time (Matplotlib figures outside pyplot), in the
    order they came.

    Example:
        >>> with ChartDrawer() as drawer:                                # doctest: +SKIP
        ...     report = build_report(ws, month, "en", on_section=drawer.add)
        ...     write_pdf(report, path, drawer.images())
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")
        self._drawn: list[Future[str]] = []

    def add(self, section: Section) -> None:
        """Start drawing the section's charts."""
        self._drawn += [self._pool.submit(chart_image, chart) for chart in section.charts]

    def images(self) -> list[str]:
        """Every chart handed over so far, drawn (waits for the last ones)."""
        return [drawn.result() for drawn in self._drawn]

    def __enter__(self) -> ChartDrawer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def cjk_font_file() -> Path | None:
    """Noto Sans CJK SC inside the installed ``mplfonts`` package, if present."""
    try:
        import mplfonts
    except ImportError:
        return None
    found = Path(mplfonts.__file__).parent / "fonts" / CJK_FILE
    return found if found.is_file() else None


def font_face_css() -> str:
    """``@font-face`` rules that give WeasyPrint the CJK font (empty without it)."""
    font = cjk_font_file()
    if font is None:
        return ""
    url = font.resolve().as_uri()
    return f'@font-face {{ font-family: "{CJK_FAMILY}"; src: url("{url}"); }}\n'

