"""Vendor Det Fælles Designsystem (npm `dkfds`): its built CSS and the fonts and icons the CSS uses.

    python -m web.vendor_dkfds [VERSION]

Packs the pinned version with `npm pack` (no install, no scripts run), checks the tarball against
the integrity the registry publishes, and copies into `web/static/dkfds/`: `css/dkfds.min.css`,
every file the CSS refers to (fonts, icons), the icon sprite and the licence. `MANIFEST.json`
records the version, the tarball's integrity and each copied file's SHA-256; a test checks the
committed files against it. Nothing else of the package is taken (its JavaScript is not needed:
the console works without scripts).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "11.2.0"
TARGET = Path(__file__).with_name("static") / "dkfds"
CSS = "css/dkfds.min.css"
EXTRA = ("img/all-svg-icons.svg", "LICENSE.md")


def referenced(css: str) -> list[str]:
    """The files a stylesheet in `css/` refers to, as paths relative to the package's dist/."""
    paths = set()
    for url in re.findall(r"url\(([^)]+)\)", css):
        url = url.strip("'\"").split("#")[0].split("?")[0]
        if url.startswith("../"):
            paths.add(url[3:])
    return sorted(paths)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(version: str = VERSION, target: Path = TARGET) -> dict:
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        npm = ["npm", "--silent", "--ignore-scripts"]
        integrity = subprocess.run([*npm, "view", f"dkfds@{version}", "dist.integrity"], check=True,
                                   capture_output=True, text=True).stdout.strip()
        name = subprocess.run([*npm, "pack", f"dkfds@{version}", "--pack-destination", str(work)], check=True,
                              capture_output=True, text=True, cwd=work).stdout.strip().splitlines()[-1]
        tarball = work / name
        algorithm, _, expected = integrity.partition("-")
        actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
        if actual != expected:
            raise SystemExit(f"{name}: {algorithm} {actual} is not the registry's {expected}")
        with tarfile.open(tarball) as archive:
            archive.extractall(work, filter="data")
        dist = work / "package" / "dist"
        files = [CSS, *referenced((dist / CSS).read_text(encoding="utf-8")), *EXTRA]
        missing = [f for f in files if not (dist / f).is_file()]
        if missing:
            raise SystemExit(f"dkfds {version} lacks files its CSS names: {missing}")
        if target.exists():
            shutil.rmtree(target)
        for relative in files:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dist / relative, target / relative)
    manifest = {
        "package": "dkfds",
        "version": version,
        "tarball_integrity": integrity,
        "taken_by": "python -m web.vendor_dkfds",
        "files": {relative: sha256(target / relative) for relative in sorted(files)},
    }
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


if __name__ == "__main__":
    taken = vendor(*sys.argv[1:2])
    print(f"dkfds {taken['version']} ({taken['tarball_integrity']}): {len(taken['files'])} files in {TARGET}")
