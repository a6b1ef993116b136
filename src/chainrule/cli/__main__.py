"""The ``chainrule`` command: ``train``, ``eval``, ``gradcheck``, ``graph`` and ``bench``.

Installed as a console script (``chainrule``), and run by ``python -m chainrule``.
``main(argv)`` returns the exit code instead of exiting, so tests call it in-process.
Every user error (bad arguments, a missing or corrupt file, ...) ends as one line
``chainrule: error: <what went wrong>`` on stderr (with a "did you mean" for a near miss
and where ``--help`` lists the options when the arguments are at fault) and a non-zero
exit code, never a traceback; Ctrl-C ends with one line too. Set the environment variable
``CHAINRULE_DEBUG=1`` to get the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from chainrule.cli.common import CLIError, Parser, UsageError

__all__ = ["build_parser", "main"]

EXIT_ERROR = 1  # something failed: a missing or corrupt file, a failed check
EXIT_USAGE = 2  # the arguments are wrong (as argparse)
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


def build_parser() -> Parser:
    """The argument parser with one subcommand per module of :mod:`chainrule.cli`."""
    from chainrule import __version__
    from chainrule.cli import eval as eval_command
    from chainrule.cli import gradcheck, graph, train

    parser = Parser(
        prog="chainrule",
        description="chainrule: train, evaluate and inspect NumPy neural networks.",
        epilog="Run `chainrule COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module, summary in (
        ("train", train, "train an MLP classifier (default: on the embedded Digits)"),
        ("eval", eval_command, "evaluate a `chainrule train` checkpoint on its test set"),
        ("gradcheck", gradcheck, "check every built-in op's backward by finite differences"),
        ("graph", graph, "render the default model's training graph (DOT, SVG/PNG)"),
    ):
        sub = commands.add_parser(
            name, help=summary, description=module.__doc__.splitlines()[0].replace("``", ""),
            usage=getattr(module, "USAGE", None),
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    commands.add_parser(
        "bench", add_help=False, help="the speed benchmarks (options: chainrule bench --help)"
    )
    return parser


def _one_line(error: BaseException) -> str:
    """The error as a single line, without the exception's class unless it says nothing."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{error.strerror}: {error.filename!r}"
    else:
        message = str(error)
        if isinstance(error, KeyError):  # str(KeyError('x')) is "'x'"
            message = f"missing key {message}"
    message = " ".join(message.split())
    return message or type(error).__name__


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (tests capture it): nothing will be flushed


def _report(message: str) -> None:
    sys.stdout.flush()
    print(f"chainrule: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chainrule`` command line; returns the exit code (0 on success).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("CHAINRULE_DEBUG", "") not in ("", "0")
    try:
        if argv and argv[0] == "bench":  # its options belong to the bench runner
            from chainrule.cli import bench

            return bench.main(argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.run(args))
    except SystemExit as exit_:  # --help and --version print and exit 0
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("chainrule: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `chainrule ... | head` closed our stdout: stop quietly
        _silence_stdout()
        return EXIT_ERROR
    except UsageError as error:
        if debug:
            raise
        _report(_one_line(error))
        return EXIT_USAGE
    except CLIError as error:
        if debug:
            raise
        _report(_one_line(error))
        return error.code
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as error:
        # the library's errors (CheckpointError is a ValueError) name what went wrong
        if debug:
            raise
        _report(_one_line(error))
        return EXIT_ERROR
    except Exception as error:  # a bug: still one line, and how to see the traceback
        if debug:
            raise
        _report(
            f"internal error: {type(error).__name__}: {_one_line(error)} "
            "(run with CHAINRULE_DEBUG=1 for the traceback)"
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
