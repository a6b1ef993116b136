"""chainrule's speed and memory benchmarks against hand-written NumPy and PyTorch.

Run ``chainrule bench``, ``python -m bench.run`` or ``python bench/run.py`` from the repo
root; see ``bench/README.md`` for the method and the latest results.
"""
