"""The report as an A4 PDF: WeasyPrint lays out the report's HTML with each chart's
static drawing (Matplotlib, :meth:`Chart.save`) embedded as a PNG ``data:`` URI.

Chinese text needs a CJK font that WeasyPrint (through fontconfig) can find. The
``mplfonts`` wheel ships Noto Sans CJK SC; it is declared with ``@font-face`` pointing at
the installed file, so nothing is downloaded and no system font is required.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

from portraits.report.render import static_html

if TYPE_CHECKING:
    from portraits.analytics.chart import Chart
    from portraits.report.model import Report

CJK_FAMILY: Final = "Noto Sans CJK SC"
CJK_FILE: Final = "NotoSansCJKsc-Regular.otf"


def write_pdf(report: Report, path: Path) -> Path:
    """Write ``report`` to ``path`` as an A4 PDF and return ``path``."""
    import weasyprint  # type: ignore[import-untyped]

    charts = [chart for section in report.sections for chart in section.charts]
    with tempfile.TemporaryDirectory(prefix="portraits-report-") as folder:
        images = chart_images(charts, Path(folder))
    html = static_html(report, images, font_css=font_face_css())
    path.parent.mkdir(parents=True, exist_ok=True)
    weasyprint.HTML(string=html).write_pdf(path)
    return path


def chart_images(charts: list[Chart], folder: Path) -> list[str]:
    """Each chart drawn to a PNG in ``folder``, returned as ``data:`` URIs."""
    uris = []
    for i, chart in enumerate(charts):
        png = chart.save(folder / f"chart-{i}.png", width=9.0, height=5.0, dpi=150)
        uris.append("data:image/png;base64," + base64.b64encode(png.read_bytes()).decode())
    return uris


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

