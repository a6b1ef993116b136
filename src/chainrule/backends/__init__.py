"""``cr.backends``: the backend switches and probes scripts set or read (``cudnn``,
``mps``). chainrule computes with NumPy on the CPU; these only keep scripts running."""

from chainrule.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
