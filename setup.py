"""Build script: ships the C runtime headers in csrc/ inside the package (ccgrad/csrc)."""

import os
import shutil

from setuptools import setup
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


setup(cmdclass={"build_py": BuildWithCsrc})
