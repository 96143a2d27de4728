"""pytest set-up: make tests/python, tests/oracle, tests (c_api.py: the C API
as data) and the Python binding (bindings/python, package mudsc) importable."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "oracle"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
