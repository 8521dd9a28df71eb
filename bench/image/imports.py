#!/usr/bin/env python3
"""Where the server's idle memory and start time go, by package (issue 18, item 3).

Run with the image's venv (bench/image/run.sh does, after bench.py): imports what uvicorn
imports when the entrypoint serves the dev stack (the basic-auth app as bounded_auth.py wraps
it, MLflow's FastAPI app, the S3 client the artifact routes create) and attributes to each
top-level package (MLflow's by subpackage) what its own modules' bodies added, the modules
they imported excluded, so the rows add up:

  self RSS    the process's resident set (/proc/self/statm) after the package's module body
              ran, minus before, minus what the modules it imported added;
  self time   the same for wall time (what `python -X importtime` calls self, summed over the
              package's modules).

Then, for the heavy packages in WATCH, the chain of MLflow modules that first imports each:
deferring them means changing those modules, which are MLflow's.
Prints a table; writes nothing.
"""

import importlib.abc
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve()
IMAGE_DIR = HERE.parents[2] / "images" / "mlflow"
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20
# Heavy at import; the table says which MLflow module runs them.
WATCH = ("pandas", "numpy", "pygments")


def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class _Measured:
    """Wraps a module's loader: records RSS and time around its module body, then
    puts the original loader back on the module (importlib.resources asks it for files)."""

    def __init__(self, inner, name, book):
        self.inner, self.name, self.book = inner, name, book

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        book = self.book
        book.stack.append([0, 0.0])  # what the modules it imports add
        if self.name in WATCH and self.name not in book.chains:
            book.chains[self.name] = importer_chain()
        before, started = rss(), time.perf_counter()
        try:
            module.__loader__ = self.inner
            module.__spec__.loader = self.inner
            self.inner.exec_module(module)
        finally:
            added, took = rss() - before, time.perf_counter() - started
            child_rss, child_time = book.stack.pop()
            book.self_rss[self.name] += added - child_rss
            book.self_time[self.name] += took - child_time
            if book.stack:
                book.stack[-1][0] += added
                book.stack[-1][1] += took


def importer_chain():
    """The chain of module bodies running now, outermost first (site-packages names)."""
    frames, frame = [], sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not frame.f_code.co_filename.startswith("<frozen") and name not in ("__main__",):
            if not frames or frames[-1] != name:
                frames.append(name)
        frame = frame.f_back
    return list(reversed(frames))


def group(name):
    """The row a module counts in: its top-level package; MLflow's by subpackage."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "mlflow" else parts[0]


class _Book(importlib.abc.MetaPathFinder):
    def __init__(self):
        self.self_rss = defaultdict(int)
        self.self_time = defaultdict(float)
        self.stack = []
        self.chains = {}

    def find_spec(self, name, path, target=None):
        if name in sys.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Measured(spec.loader, group(name), self)
                return spec
        return None


def not_in_image(rows):
    """Rows whose distribution the image's lock does not install (the test venv's own: pytest
    brings pygments, which mako then imports): they inflate a venv measurement, not the image."""
    import importlib.metadata
    import re

    lock = (IMAGE_DIR / "requirements.lock").read_text()
    locked = {re.sub(r"[-_.]+", "-", m.lower()) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", lock, re.M)}
    dists = importlib.metadata.packages_distributions()
    out = set()
    for row in rows:
        names = dists.get(row.split(".")[0])
        if names and not any(re.sub(r"[-_.]+", "-", n.lower()) in locked for n in names):
            out.add(row)
    return out


def main():
    sys.path.insert(0, str(IMAGE_DIR))
    book = _Book()
    base = rss()
    started = time.perf_counter()
    sys.meta_path.insert(0, book)
    import warnings

    warnings.simplefilter("ignore")
    import bounded_auth  # noqa: F401  (the app uvicorn serves: MLflow's auth app, bounded)
    import mlflow.server.auth  # noqa: F401
    import mlflow.server.fastapi_app  # noqa: F401
    import boto3

    boto3.client("s3", region_name="us-east-1")  # the artifact routes' client
    sys.meta_path.remove(book)
    total_rss, total_time = rss() - base, time.perf_counter() - started

    rows = sorted(book.self_rss, key=lambda n: -book.self_rss[n])
    outside = not_in_image(rows)
    print("server imports by package (MLflow's by subpackage; self: what the package's own")
    print("module bodies added, the modules they imported excluded, so the rows add up)")
    print(f"  {'package':<28} {'self RSS':>10} {'self time':>10}")
    for name in rows[:18]:
        note = "  (not in the image: the test venv's)" if name in outside else ""
        print(f"  {name:<28} {book.self_rss[name] / MIB:7.1f} MiB {book.self_time[name]:8.2f} s{note}")
    rest = rows[18:]
    print(f"  {f'{len(rest)} others':<28} {sum(book.self_rss[n] for n in rest) / MIB:7.1f} MiB "
          f"{sum(book.self_time[n] for n in rest):8.2f} s")
    print(f"  {'all imports':<28} {total_rss / MIB:7.1f} MiB {total_time:8.2f} s "
          f"(interpreter before them: {base / MIB:.1f} MiB; {len(sys.modules)} modules)")
    extra = sum(book.self_rss[n] for n in outside)
    print(f"  of which not in the image (the test venv's own packages): {extra / MIB:.1f} MiB")
    watched = sum(book.self_rss[n] for n in WATCH)
    print(f"  {' + '.join(WATCH)}: {watched / MIB:.1f} MiB at import; first imported by:")
    for name in WATCH:
        chain = book.chains.get(name, [])
        mlflow_side = [c for c in chain if c.startswith("mlflow")][-3:]
        rest = chain[chain.index(mlflow_side[-1]) + 1:] if mlflow_side else chain[-3:]
        print(f"    {name}: {' -> '.join(mlflow_side + rest) or 'not imported'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
