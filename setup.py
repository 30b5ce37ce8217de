"""Build script: the dispatcher extension (csrc/ccgrad_dispatch.c) and the C runtime headers
shipped inside the package (ccgrad/csrc) for generated code."""

import os
import shutil

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")


class BuildWithCsrc(build_py):
    """Copy csrc/*.h|*.c next to the Python sources as package data."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "ccgrad", "csrc")
        os.makedirs(target, exist_ok=True)
        for name in sorted(os.listdir(CSRC)):
            if name.endswith((".h", ".c")):
                shutil.copyfile(os.path.join(CSRC, name), os.path.join(target, name))


class BuildExtWithTemplate(build_ext):
    """Also write cffi's module wrapper template next to the package (ccgrad/_cffi_wrapper.c.in),
    so compiling a function at run time needs no C declaration parsing.  Best effort: without
    it ccgrad generates the wrapper with cffi at run time."""

    def run(self):
        super().run()
        try:
            import importlib.util

            path = os.path.join(HERE, "ccgrad", "_cffi_template.py")
            spec = importlib.util.spec_from_file_location("_ccg_template", path)
            tmpl = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(tmpl)
            with open(os.path.join(CSRC, "ccgrad_abi.h"), encoding="utf-8") as fh:
                abi = fh.read()
            cdef = abi[abi.index("/* CDEF-BEGIN */") + 16: abi.index("/* CDEF-END */")].strip() + "\n"
            target = os.path.join(HERE if self.inplace else self.build_lib, "ccgrad")
            os.makedirs(target, exist_ok=True)
            tmpl.write(os.path.join(target, tmpl.TEMPLATE_NAME), cdef)
        except Exception as exc:
            print(f"ccgrad: no cffi wrapper template ({exc}); it will be generated at run time")


dispatch = Extension(
    "ccgrad._dispatch",
    sources=["csrc/ccgrad_dispatch.c"],
    include_dirs=[CSRC, numpy.get_include()],
    extra_compile_args=["-O2", "-std=c99"],
)

setup(cmdclass={"build_py": BuildWithCsrc, "build_ext": BuildExtWithTemplate}, ext_modules=[dispatch])
