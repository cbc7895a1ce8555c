"""Build of the optional compiled hot path (issue #16).

The analysis modules named in ``COMPILED`` are compiled with Cython *as they are* (pure-Python
mode: the same source, no .pyx), under a private name: ``monitor/analysis/sentiment.py`` becomes
the extension ``monitor.analysis._compiled_sentiment``. The ``.py`` module stays the reference
and the fallback; at import it swaps in the compiled module's names when that extension exists
and ``MONITOR_PURE_PYTHON`` is not set (see ``monitor/analysis/compiled.py``). A module's
``monitor/analysis/_compiled_<name>.pxd``, where there is one, gives its functions C types in that
build (Cython's "augmenting .pxd"). The hand-written ``monitor/analysis/_*.pyx`` (character scans in
C) are built too; the compiled modules use them where built, their pure-Python code otherwise.

Nothing here may stop an install: without Cython, without a C compiler, or when compiling fails,
the package installs pure Python and works the same, only slower.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
# monitor/analysis/<name>.py -> monitor.analysis._compiled_<name>
COMPILED = ("sentiment", "matching", "stance", "language")
GENERATED = Path("build") / "cython-src"  # relative: setuptools wants relative source paths


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing: the pure-Python modules are a complete fallback."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:  # no `--parallel N` asked for: one compiler per core
            # The modules compiled side by side: gcc on Cython's C took 46 of a fresh install's 58 s on
            # two cores, one module after the other; 26 s so.
            self.parallel = os.cpu_count() or 1

    def build_extensions(self) -> None:
        # The biggest C first, so that no long compile starts last while the other cores idle.
        self.extensions.sort(key=lambda ext: -sum(_size(source) for source in ext.sources))
        super().build_extensions()

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # any build failure means "install pure Python"
            self._skip(error)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as error:
            self._skip(error, ext.name)

    @staticmethod
    def _skip(error: BaseException, name: str = "the compiled analysis") -> None:
        print(f"warning: {name} not built ({error}); the pure-Python modules will be used", file=sys.stderr)


def _size(path: str) -> int:
    file = ROOT / path
    return file.stat().st_size if file.exists() else 0


def _copy_types(name: str, out_dir: Path) -> None:
    """The module's augmenting .pxd (C types for its functions), when it has one, goes beside the
    copy: Cython reads ``_compiled_<name>.pxd`` next to ``_compiled_<name>.py``."""
    types = ROOT / "monitor" / "analysis" / f"_compiled_{name}.pxd"
    target = out_dir / types.name
    if types.exists():
        if not target.exists() or target.read_bytes() != types.read_bytes():
            target.write_bytes(types.read_bytes())
    elif target.exists():
        target.unlink()


def compiled_extensions() -> list:
    if os.environ.get("MONITOR_PURE_PYTHON") or os.environ.get("MONITOR_NO_COMPILE"):
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        print("warning: Cython not available; installing the pure-Python analysis", file=sys.stderr)
        return []
    out_dir = ROOT / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    extensions = []
    for name in COMPILED:
        # A copy under the extension's own name: Cython names the module after its file.
        # Its source's digest goes with it: at run time a compiled module built from another
        # version of the .py is not used (monitor/analysis/compiled.py).
        copy = out_dir / f"_compiled_{name}.py"
        source = (ROOT / "monitor" / "analysis" / f"{name}.py").read_bytes()
        text = source + f'\n_SOURCE_SHA256 = "{hashlib.sha256(source).hexdigest()}"\n'.encode()
        if not copy.exists() or copy.read_bytes() != text:  # unchanged: Cython need not run again
            copy.write_bytes(text)
        _copy_types(name, out_dir)
        extensions.append(Extension(f"monitor.analysis._compiled_{name}", [str(GENERATED / copy.name)]))
    try:
        built = cythonize(extensions, language_level=3, quiet=True,
                          compiler_directives={"binding": True, "embedsignature": False,
                                               "annotation_typing": False})  # types: the .pxd files
    except Exception as error:  # Cython could not translate: install pure Python
        print(f"warning: Cython failed ({error}); installing the pure-Python analysis", file=sys.stderr)
        return []
    return built + hand_written_extensions(cythonize, Extension)


def hand_written_extensions(cythonize, extension_class) -> list:  # type: ignore[no-untyped-def]
    """Hot loops written for Cython (.pyx): used by the compiled modules where built, else their
    pure-Python code runs (e.g. ``sentiment._tokens``). Translated apart from the modules above, so
    that a failure here leaves those."""
    sources = sorted((ROOT / "monitor" / "analysis").glob("_*.pyx"))
    try:
        return cythonize([extension_class(f"monitor.analysis.{path.stem}",
                                          [str(path.relative_to(ROOT))]) for path in sources],
                         language_level=3, quiet=True, build_dir=str(GENERATED))  # the C beside the others
    except Exception as error:
        print(f"warning: Cython failed on the .pyx modules ({error}); their pure-Python code will run",
              file=sys.stderr)
        return []


def prefilter_extension() -> list:
    """The import prefilter's trigger scan (monitor/analysis/_prefilter_scan.c, issue #16): plain C,
    no Cython needed. Without it monitor/analysis/prefilter.py scans in pure Python (same lines)."""
    if os.environ.get("MONITOR_PURE_PYTHON") or os.environ.get("MONITOR_NO_COMPILE"):
        return []
    from setuptools import Extension

    return [Extension("monitor.analysis._prefilter_scan", ["monitor/analysis/_prefilter_scan.c"],
                      extra_compile_args=["-O2"])]


setup(ext_modules=compiled_extensions() + prefilter_extension(), cmdclass={"build_ext": OptionalBuildExt})
