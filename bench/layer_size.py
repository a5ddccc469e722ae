"""The shared layer's size per distribution: unzipped (bytes on disk) and
zipped as `sam build` zips it (every file deflated at zlib's default level,
named from the artifact folder, `python/...`, no directory entries). Lambda
limits a function and its layers to 250 MB unzipped; the zipped size is
what is uploaded and what each new execution environment fetches.

A file belongs to the distribution whose RECORD lists it (pip writes the
record of what it installed, so a file the build removed is simply not
counted); the bytecode that the build compiles afterwards belongs to its
source's distribution; the rest (the `oversight` package) is this
project's. A zip entry's headers (local and central, with its name) count
towards its distribution; the total is the zip's real length.

`python -m bench.layer_size [--layer DIR]` builds the layer for Lambda
(layers/oversight/Makefile's default platform, arm64) in a temporary
folder and prints the table; DIR: a built layer's `python` folder instead.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cold_start import build_layer  # noqa: E402

LAMBDA_PLATFORM = "manylinux2014_aarch64"  # the Makefile's default: Lambda's arm64

PROJECT = "oversight (this project)"
LOCAL_HEADER = 30  # bytes of a zip entry's local header, before its name
CENTRAL_HEADER = 46  # and of its central directory record


@dataclass
class Share:
    """One distribution's part of the layer."""

    name: str
    files: int = 0
    unzipped: int = 0
    zipped: int = 0


def owners(python: Path) -> dict[str, str]:
    """Each installed file's distribution ("Name version"), by path
    relative to `python`, from the RECORD files pip wrote."""
    owned: dict[str, str] = {}
    for record in sorted(python.glob("*.dist-info/RECORD")):
        info = record.parent
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        fields = dict(line.split(": ", 1) for line in metadata.splitlines()[:10] if ": " in line)
        name = f"{fields.get('Name', info.name)} {fields.get('Version', '')}".strip()
        with record.open(newline="") as lines:
            for row in csv.reader(lines):
                if row and not row[0].startswith(".."):
                    owned[row[0]] = name
    return owned


def _owner(relative: Path, owned: dict[str, str], tops: dict[str, str]) -> str:
    key = relative.as_posix()
    if key in owned:
        return owned[key]
    if relative.parent.name == "__pycache__" and relative.suffix == ".pyc":
        source = relative.parent.parent / (relative.name.split(".", 1)[0] + ".py")
        if source.as_posix() in owned:
            return owned[source.as_posix()]
    # Anything else under a folder that a distribution installed is that distribution's.
    return tops.get(relative.parts[0], PROJECT)


def layer_sizes(python: Path) -> tuple[list[Share], Share]:
    """The shares, largest zipped first, and the layer's total (its zip's
    real length)."""
    owned = owners(python)
    tops = {Path(path).parts[0]: name for path, name in owned.items()}
    shares: dict[str, Share] = defaultdict(lambda: Share(""))
    archive = io.BytesIO()
    total = Share("total")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(p for p in python.rglob("*") if p.is_file()):
            relative = path.relative_to(python)
            entry = zipfile.ZipInfo(f"{python.name}/{relative.as_posix()}")
            data = path.read_bytes()
            zipped.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
            share = shares[_owner(relative, owned, tops)]
            share.files += 1
            share.unzipped += len(data)
            share.zipped += entry.compress_size + LOCAL_HEADER + CENTRAL_HEADER + 2 * len(entry.filename.encode())
            total.files += 1
            total.unzipped += len(data)
    total.zipped = len(archive.getvalue())
    for name, share in shares.items():
        share.name = name
    return sorted(shares.values(), key=lambda share: share.zipped, reverse=True), total


def print_sizes(python: Path) -> Share:
    """Prints the table of `python`'s shares; returns the total."""
    shares, total = layer_sizes(python)
    print(f"\n{'layer, per distribution':<36} {'files':>6} {'unzipped KB':>12} {'zipped KB':>10}")
    for share in [*shares, total]:
        print(f"{share.name:<36} {share.files:>6} {share.unzipped / 1024:>12.0f} {share.zipped / 1024:>10.0f}")
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer", type=Path, help="a built layer's python folder (default: build one for Lambda)")
    args = parser.parse_args(argv)
    if args.layer:
        print_sizes(args.layer)
        return
    with tempfile.TemporaryDirectory(prefix="oversight-layer-") as scratch:
        print_sizes(build_layer(Path(scratch) / "layer", LAMBDA_PLATFORM))


if __name__ == "__main__":
    main()
