"""What rendering and checking bulletin documents needs on the machine: the Noto CJK fonts
(WeasyPrint draws Chinese with them), Pango (WeasyPrint's text layout) and poppler's
pdftoppm / pdftotext (the tests read the PDF back). Installed with apt when missing and
root, like the servers in tests/servers.py."""

from __future__ import annotations

import ctypes.util
import shutil
import subprocess

from tests.servers import _apt_install

PACKAGES = ["fontconfig", "fonts-noto-cjk", "poppler-utils", "libpango-1.0-0", "libpangoft2-1.0-0",
            "libharfbuzz-subset0"]


def _missing() -> bool:
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                           check=False).stdout if shutil.which("fc-list") else ""
    if "Noto" not in fonts or not shutil.which("pdftoppm") or not shutil.which("pdftotext"):
        return True
    if ctypes.util.find_library("harfbuzz-subset") is None:  # without it, minutes per PDF
        return True
    try:
        import weasyprint  # noqa: F401
    except OSError:  # Pango's shared libraries are not there
        return True
    return False


def ensure_document_tools() -> None:
    if _missing():
        _apt_install(PACKAGES, "rendering bulletin PDFs needs the Noto CJK fonts, Pango and "
                     "poppler-utils")
