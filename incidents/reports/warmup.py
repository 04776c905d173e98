"""Imported once in the PDF renderer's forkserver: lays out a tiny page with the documents' fonts,
so every forked child starts with fontconfig and Pango ready instead of loading them per PDF."""
from __future__ import annotations

from weasyprint import HTML

HTML(string='<html lang="en"><body style="font-family: \'Liberation Sans\', \'DejaVu Sans\'"><p><b>Warm</b> '
            'up</p><pre style="font-family: \'DejaVu Sans Mono\'">0</pre></body></html>').write_pdf()
