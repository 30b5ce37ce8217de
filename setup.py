"""Build script: the dispatcher extension (csrc/ccgrad_dispatch.c) and the C runtime headers
shipped inside the package (ccgrad/csrc) for generated code."""

import os
import shutil

import numpy
from setuptools import Extension, setup
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


dispatch = Extension(
    "ccgrad._dispatch",
    sources=["csrc/ccgrad_dispatch.c"],
    include_dirs=[CSRC, numpy.get_include()],
    extra_compile_args=["-O2", "-std=c99"],
)

setup(cmdclass={"build_py": BuildWithCsrc}, ext_modules=[dispatch])
