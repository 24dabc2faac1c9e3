"""Starts an IPython kernel without the debugger.

ipykernel imports debugpy (and through it pydevd and pkg_resources) at every kernel start, only to
offer Jupyter's visual debugger, which CodeRunner never uses: about 0.7 s of each kernel's cold start.
Marking the module absent makes ipykernel skip it; everything else is the stock `ipykernel_launcher`.
"""
import sys

sys.modules["debugpy"] = None  # `import debugpy` now raises ImportError: ipykernel runs without a debugger

from ipykernel import kernelapp

kernelapp.launch_new_instance()
