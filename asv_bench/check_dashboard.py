"""Open the published asv dashboard in headless Chromium and check that every benchmark has
its plot: ``python asv_bench/check_dashboard.py [--screenshot DIR]``.

Serves ``asv_bench/.asv/html`` on localhost, loads each benchmark's page
(``index.html#<benchmark>``) and looks for the plot's canvas in the rendered DOM. Exits 1
naming the benchmarks without one."""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HTML = Path(__file__).parent / ".asv" / "html"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=8000"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--screenshot", type=Path, help="also save one PNG per benchmark here")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    names = sorted(json.loads((HTML / "index.json").read_text())["benchmarks"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    missing = []
    with tempfile.TemporaryDirectory() as profile:
        for name in names:
            url = f"http://127.0.0.1:{server.server_port}/#{name}"
            base = [browser, *FLAGS, f"--user-data-dir={profile}"]
            dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
            has_plot = "flot-base" in dom or "<canvas" in dom
            print(f"{'plot' if has_plot else 'NO PLOT'}  {name}")
            if not has_plot:
                missing.append(name)
            if args.screenshot:
                args.screenshot.mkdir(parents=True, exist_ok=True)
                subprocess.run([*base, "--window-size=1280,900", f"--screenshot={args.screenshot / name}.png", url],
                               capture_output=True, timeout=120)
    server.shutdown()
    print(f"{len(names) - len(missing)} of {len(names)} benchmarks have a plot")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
