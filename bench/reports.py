"""Report rendering benchmark: `.venv/bin/python -m bench.reports`.

1. The executive report of an incident with 2,000 timeline entries (the whole timeline): our own
   work (queries + template rendering) against WeasyPrint's layout of the same HTML, the share of
   ours, and peak memory.
2. The demo incident's executive report as the app makes it (our work + the PDF in a child
   process, PDF/UA): seconds and pages per second, beside a plain WeasyPrint render of the same final
   HTML (in-process, default options, stylesheet read from disk).

Medians of a few rounds; the machines are shared and noisy, so the ratios are what count.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# Only the standard library at module level: each PDF child process imports the main module
# (multiprocessing's forkserver does), and the app's own main modules (gunicorn, flask) are light.

PASSWORD = "benchmark-password"


def _median(fn, rounds: int):
    samples, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def _peak(fn) -> float:
    """Peak Python heap (MiB) while `fn` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def our_work(app, reference: str, option) -> str:
    """Queries + template rendering: everything before WeasyPrint."""
    from incidents.extensions import db
    from incidents.incident.service import get_incident
    from incidents.reports.executive import build_report, report_html

    with app.test_request_context():
        incident = get_incident(session=db.session, reference=reference)
        report = build_report(session=db.session, incident=incident, option=option,
                              organisation="Skylark Sync", marking="Confidential: internal use only")
        html = report_html(report, for_pdf=True)
        db.session.remove()
        return html


def plain_weasyprint(html: str, static_root: Path) -> bytes:
    from weasyprint import HTML

    # Trusted HTML only (the benchmark's own): the default fetcher reads the stylesheet from disk.
    return HTML(string=html.replace('href="/static/', 'href="static/'),
                base_url=str(static_root.parent) + "/").write_pdf()


def main(argv: list[str] | None = None) -> int:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from bench.__main__ import build_incident
    from incidents import create_app
    from incidents.auth.models import Role
    from incidents.auth.service import create_user
    from incidents.demo import notice_story, scenario
    from incidents.extensions import db
    from incidents.incident.service import get_incident
    from incidents.reports.executive import TimelineOption
    from incidents.reports.render import render_in_process, render_pdf, static_folder_of
    from incidents.timeline.models import TimelineEntry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.db'}", "INSTANCE_PATH": tmp,
                          "SECRET_KEY": "bench", "DEMO_PASSWORD": PASSWORD})
        static = Path(static_folder_of(app))
        with app.app_context():
            upgrade()
            user = create_user(session=db.session, email="bench@example.com", password=PASSWORD,
                               role=Role.responder, name="Bench")
            big = build_incident(user, entries=2000, impact_updates=50, workstreams=10)
            demo = scenario.load(session=db.session, password=PASSWORD)
            notice_story.play(session=db.session, incident=demo)
            db.session.commit()
            demo_ref = demo.reference
            entries = db.session.scalar(select(func.count(TimelineEntry.id)).where(
                TimelineEntry.incident_id == get_incident(session=db.session, reference=big).id))

        # 1. 2,000 entries: our work (in this process) against WeasyPrint's layout (in the child
        # process the app uses, so its peak memory is measured on its own). The layout takes tens of
        # seconds, so it runs once; our work is the median of a few rounds.
        our_work(app, big, TimelineOption.all)  # warm templates and caches
        ours, html = _median(lambda: our_work(app, big, TimelineOption.all), args.rounds)
        ours_peak = _peak(lambda: our_work(app, big, TimelineOption.all))
        layout = render_pdf(html, static_folder=static, timeout=600)
        print(f"executive report, {entries:,} timeline entries (whole timeline): {layout.pages} pages, "
              f"{len(html) / 1024:.0f} KiB of HTML")
        print(f"  our work (queries + templates)   {ours * 1000:8.0f} ms   peak Python heap {ours_peak:6.1f} MiB")
        print(f"  WeasyPrint layout + PDF (child)  {layout.seconds * 1000:8.0f} ms   peak RSS of the child "
              f"{layout.peak_rss_mib:6.0f} MiB")
        print(f"  our share of the total           {100 * ours / (ours + layout.seconds):7.1f} %")

        # 2. The demo incident's report: the app's way, step by step, beside plain WeasyPrint.
        demo_html = our_work(app, demo_ref, TimelineOption.key)
        render_pdf(demo_html, static_folder=static)  # the forkserver starts once per app server
        rows = [
            ("plain WeasyPrint, same HTML, in-process", lambda: plain_weasyprint(demo_html, static)),
            ("+ safe fetcher, PDF/UA tags, in-process",
             lambda: render_in_process(demo_html, static_folder=static)),
            ("+ in a child process with a time limit", lambda: render_pdf(demo_html, static_folder=static)),
            ("the app: our work + the above", lambda: render_pdf(our_work(app, demo_ref, TimelineOption.key),
                                                                static_folder=static)),
        ]
        pages = render_pdf(demo_html, static_folder=static).pages
        print(f"demo incident executive report, {pages} pages; median of {args.rounds}")
        base = None
        for label, fn in rows:
            seconds, _ = _median(fn, args.rounds)
            base = base or seconds
            print(f"  {label:42} {seconds:6.2f} s {pages / seconds:6.1f} pages/s {seconds / base:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
