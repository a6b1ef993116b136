"""The ``chainrule`` command line: ``train``, ``eval``, ``gradcheck``, ``graph``, ``bench``.

Each subcommand is a module with ``add_arguments(parser)`` and ``run(args) -> int``;
:mod:`chainrule.cli.__main__` wires them together (``main(argv) -> int``).
"""
