"""Make the published asv dashboard work without internet: ``python asv_bench/offline_dashboard.py``.

asv's ``index.html`` loads jQuery, flot, bootstrap and friends from CDNs; on a machine with
no route to them the page shows "Can not determine continental origin of swallow" and no
plot. This fetches the same versions from the npm registry (``npm pack``), copies them
into ``.asv/html/vendor/`` and points ``index.html`` at the copies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).parent
HTML = HERE / ".asv" / "html"
CACHE = HERE / ".asv" / "vendor-cache"
# CDN file name -> (npm package, path inside its tarball)
FILES = {
    "jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js"),
    "jquery.flot.selection.min.js": ("flot@0.8.3", "jquery.flot.selection.js"),
    "jquery.flot.categories.min.js": ("flot@0.8.3", "jquery.flot.categories.js"),
    "jquery.flot.orderBars.js": ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "stupidtable.min.js": ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "bootstrap.min.css": ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}


def _package(spec: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    name = spec.replace("@", "-")
    tarballs = list(CACHE.glob(f"{name}.tgz"))
    if not tarballs:
        subprocess.run(["npm", "pack", spec, "--pack-destination", str(CACHE)], check=True, capture_output=True)
        tarballs = list(CACHE.glob(f"{name}.tgz"))
    return tarballs[0]


def main() -> int:
    index = HTML / "index.html"
    text = index.read_text()
    vendor = HTML / "vendor"
    vendor.mkdir(exist_ok=True)
    for url in sorted(set(re.findall(r'(?:src|href)="(https://[^"]+\.(?:js|css))"', text))):
        filename = url.rsplit("/", 1)[1]
        if filename not in FILES:
            print(f"left as is (unknown): {url}", file=sys.stderr)
            continue
        spec, inner = FILES[filename]
        with tarfile.open(_package(spec)) as tar, tar.extractfile(f"package/{inner}") as src:
            with open(vendor / filename, "wb") as dst:
                shutil.copyfileobj(src, dst)
        text = text.replace(url, f"vendor/{filename}")
    # the copies are unminified where npm has no .min file: the CDN's integrity hashes no longer apply
    text = re.sub(r'((?:src|href)="vendor/[^"]+")\s+integrity="[^"]*"', r"\1", text)
    index.write_text(text)
    print(f"dashboard made offline: {HTML}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
