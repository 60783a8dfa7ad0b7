"""The Illustrated SSH Connection, timed as users meet it: `sshviz report TRACE --format html`
as a whole command on a trace of about 1,000 messages (goal: under 2 s), then the page in
Debian's Chromium (headless, driven by Playwright): until it has loaded, and until the last
record is open with its bytes drawn (goal: usable in under 1 s).

    python bench/report_speed.py [--rounds N] [--messages N]

Prints medians and spread. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sshviz.scenario import Scenario, run_scenario  # noqa: E402
from sshviz.trace.fileformat import save_trace  # noqa: E402

SFTP_ROUND = ["put hello.txt", "get hello.txt copy.txt", "ls"]  # about 30 messages


def figures(name: str, values: list[float], goal: str) -> str:
    values = sorted(values)
    return (f"{name:<48} median {statistics.median(values) * 1000:7.0f} ms   min {values[0] * 1000:6.0f}"
            f"   max {values[-1] * 1000:6.0f}   ({len(values)} rounds; goal {goal})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trace = run_scenario(Scenario(sftp_actions=SFTP_ROUND * max(1, args.messages // 30))).trace
        trace_file, page = Path(tmp) / "session.yaml", Path(tmp) / "page.html"
        save_trace(trace, trace_file)
        command = [sys.executable, "-m", "sshviz", "report", str(trace_file), "--format", "html", "-o", str(page)]
        made = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            subprocess.run(command, check=True)
            made.append(time.perf_counter() - start)
        print(f"trace: {len(trace.events)} messages; page: {page.stat().st_size / 1e6:.1f} MB")
        print(figures("sshviz report --format html (whole command)", made, "< 2 s"))

        from playwright.sync_api import sync_playwright

        loaded, usable = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-dev-shm-usage"])
            for _ in range(args.rounds):
                tab = browser.new_page()
                start = time.perf_counter()
                tab.goto(page.as_uri(), wait_until="load")
                loaded.append(time.perf_counter() - start)
                tab.locator("details.rec").last.locator("summary").click()
                tab.locator("details.rec").last.locator(".hex").first.wait_for()
                usable.append(time.perf_counter() - start)
                tab.close()
            browser.close()
        print(figures("page loaded in Chromium", loaded, "< 1 s"))
        print(figures("... and its last record open, bytes drawn", usable, "< 1 s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
