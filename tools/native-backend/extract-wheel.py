"""Copies the TensorFlow C library and its C headers out of a tensorflow-cpu wheel into DEST
(tfjs-node's deps/ folder: lib/ and include/), with the library names tfjs-node links against.
Only the headers the binding's sources in SOURCES include, and what those include, are copied (the
wheel's include/ holds 270 MB of C++ headers).

usage: extract-wheel.py WHEEL DEST SOURCES
"""
import os
import re
import shutil
import sys
import zipfile

LIBRARIES = ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")
INCLUDE = "tensorflow/include/"
QUOTED_INCLUDE = re.compile(rb'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def binding_includes(sources: str) -> list:
    """The quoted includes of the binding's C++ sources that name TensorFlow headers."""
    found = set()
    for name in os.listdir(sources):
        if name.endswith((".cc", ".h")):
            with open(os.path.join(sources, name), "rb") as f:
                found.update(m.decode() for m in QUOTED_INCLUDE.findall(f.read()))
    return sorted(h for h in found if h.startswith("tensorflow/"))


def header_closure(archive: zipfile.ZipFile, names: set, entries: list) -> list:
    """The entry headers and every header of the wheel they include, transitively."""
    seen, todo = set(), list(entries)
    while todo:
        header = todo.pop()
        if header in seen or INCLUDE + header not in names:
            continue
        seen.add(header)
        todo.extend(m.decode() for m in QUOTED_INCLUDE.findall(archive.read(INCLUDE + header)))
    return sorted(seen)


def main(wheel: str, dest: str, sources: str) -> None:
    entries = binding_includes(sources)
    if not entries:
        sys.exit(f"no TensorFlow includes found in the sources under {sources}")
    lib = os.path.join(dest, "lib")
    include = os.path.join(dest, "include")
    os.makedirs(lib, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in LIBRARIES:
            member = "tensorflow/" + name
            if member not in names:
                sys.exit(f"{wheel} has no {member}: not a tensorflow-cpu wheel for Linux?")
            with archive.open(member) as src, open(os.path.join(lib, name), "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        headers = header_closure(archive, names, entries)
        missing = [h for h in entries if h not in headers]
        if missing:
            sys.exit(f"{wheel} lacks {', '.join(missing)} under {INCLUDE}")
        for header in headers:
            target = os.path.join(include, header)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(INCLUDE + header) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    # The C API lives in libtensorflow_cc.so.2; tfjs-node links -ltensorflow -ltensorflow_framework.
    for alias, target in (("libtensorflow.so", "libtensorflow_cc.so.2"), ("libtensorflow.so.2", "libtensorflow_cc.so.2"),
                          ("libtensorflow_framework.so", "libtensorflow_framework.so.2")):
        path = os.path.join(lib, alias)
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(target, path)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3])
