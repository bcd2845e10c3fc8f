"""The `zoo` command line.

    zoo list [PATTERN]      registered models (shell-style pattern)
    zoo info NAME [--json]  family, config, parameter count and paper of a model
    zoo quickstart          train and evaluate a tiny model of each family on shipped data

Exit codes: 0 success, 1 a failed run, 2 bad usage (unknown command, model or argument).
"""

from __future__ import annotations

import argparse
import json
import sys


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def _cmd_list(args) -> int:
    from zoo.models.catalog import get_spec, list_models

    names = list_models(args.pattern)
    if not names:
        print(f"No model matches '{args.pattern}'. Try `zoo list` for all.", file=sys.stderr)
        return 1
    width = max(len(n) for n in names)
    for name in names:
        spec = get_spec(name)
        print(f"{name:<{width}}  {spec.family:<11}  {spec.params:>13,}  {spec.description}")
    return 0


def _cmd_info(args) -> int:
    from zoo.models.catalog import describe

    info = describe(args.name)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    print(f"{info['name']}: {info['description']}")
    print(f"  family:     {info['family']} (tasks: {', '.join(info['tasks'])}; default {info['task']})")
    print(f"  class:      {info['class']}")
    print(f"  parameters: {info['params']:,}")
    print(f"  paper:      {info['paper']}")
    print("  config:")
    for key, value in info["config"].items():
        print(f"    {key}: {json.dumps(value)}")
    return 0


def _cmd_quickstart(args) -> int:
    from zoo import quickstart

    results = quickstart.run(steps=args.steps, out=args.out, seed=args.seed)
    return 0 if all(r["ok"] for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="Keras 3 model zoo: models, benchmarks and a leaderboard.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list registered models", description="List registered models.")
    p.add_argument("pattern", nargs="?", help="shell-style pattern, e.g. 'vit_*'")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="describe a model", description="Describe a registered model.")
    p.add_argument("name", help="model name (see `zoo list`)")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "quickstart",
        help="train and evaluate a tiny model of each family on shipped data",
        description="Build, train briefly and evaluate a tiny model of each family on data "
        "that ships with zoo and its dependencies (scikit-learn's digits, a Tatoeba sample).",
    )
    p.add_argument("--steps", type=int, default=None, help="training steps per model")
    p.add_argument("--out", default="runs/quickstart", help="where to write results.json")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=_cmd_quickstart)
    return parser


def _version() -> str:
    from zoo import __version__

    return f"zoo {__version__}"


def main(argv: list[str] | None = None) -> int:
    from zoo.registry import UnknownNameError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "quickstart" and args.steps is not None and args.steps <= 0:
        parser.error("--steps must be a positive number of training steps")
    try:
        return args.func(args)
    except (UnknownNameError, UsageError) as error:
        print(f"zoo {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
