"""Rebuild examples/submissions/felix_moreno.zip from examples/felix_moreno_src/.

Deterministic: sorted entries, fixed timestamps and permissions, so rerunning it
reproduces the zip byte for byte.  Run from anywhere:  python examples/make_felix_zip.py
"""

import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "felix_moreno_src"
TARGET = HERE / "submissions" / "felix_moreno.zip"
STAMP = (2025, 3, 14, 23, 58, 0)  # handed in two minutes before the deadline


def entry(name: str, is_dir: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name + ("/" if is_dir else ""), date_time=STAMP)
    info.create_system = 3  # Unix
    info.external_attr = ((0o40755 if is_dir else 0o100644) << 16) | (0x10 if is_dir else 0)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def main() -> None:
    paths = sorted(p for p in SOURCE.rglob("*") if "__pycache__" not in p.parts)
    with zipfile.ZipFile(TARGET, "w") as bundle:
        for path in paths:
            name = path.relative_to(SOURCE).as_posix()
            if path.is_dir():
                bundle.writestr(entry(name, is_dir=True), b"")
            else:
                bundle.writestr(entry(name), path.read_bytes())
    print(f"wrote {TARGET.relative_to(HERE.parent)} ({len(paths)} entries)")


if __name__ == "__main__":
    main()
