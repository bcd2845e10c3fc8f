"""The `zoo` command line.

    zoo list [PATTERN]      registered models (shell-style pattern)
    zoo entries [PATTERN]   published entries (trained models): score, size, input
    zoo info NAME [--json]  family, config, parameter count and paper of a model
    zoo quickstart          the whole pipeline on shipped data: recipes, training, benchmarks,
                            a leaderboard of the run (runs/quickstart/site/index.html)
    zoo bench list|show|run|compare   benchmarks, evaluation runs, paired tests
    zoo convert SOURCE --to DIR        another library's checkpoint as a zoo entry folder
    zoo export ENTRY DIR [--format hf] an entry as TF Hub SavedModels or Transformers' layout
    zoo quantize ENTRY --mode MODE     a compressed copy of an entry (int8, int8-weights, float16)

Exit codes: 0 success, 1 a failed run, 2 bad usage (unknown command, model or argument).
TensorFlow's native log lines are kept off the terminal (`zoo.quiet`); `zoo --verbose COMMAND`
shows them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from zoo import entries
from zoo.training import precision as training_precision

USER_RESULTS = "runs/results"  # a user's records; benchmarks/results/ holds the published ones
EXPORTS = "benchmarks/exports"  # the published TF Hub archives (scripts/export_entries.py)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def _print_table(header: tuple, rows: list[tuple], right: tuple = ()) -> None:
    """Rows of strings under a header row, in columns two spaces apart; the columns whose
    index is in `right` are right-aligned (numbers), the last is left ragged."""
    table = [tuple(header), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [f"{cell:>{w}}" if i in right else f"{cell:<{w}}"
                 for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join([*cells, row[-1]]).rstrip())


def _none_match(what: str, pattern: str, command: str) -> int:
    """Says on stderr that no `what` matches `pattern` (`zoo COMMAND` lists all); exit code 1."""
    print(f"No {what} matches '{pattern}'. Try `zoo {command}` for all." if pattern else
          f"No {what} found.", file=sys.stderr)
    return 1


def _cmd_list(args) -> int:
    from zoo.models.catalog import get_spec, list_models

    names = list_models(args.pattern)
    if not names:
        return _none_match("model", args.pattern, "list")
    rows = []
    for name in names:
        spec = get_spec(name)
        params = "handle's" if spec.params is None else f"{spec.params:,}"
        rows.append((name, spec.family, params, spec.description))
    _print_table(("model", "family", "parameters", "description"), rows, right=(2,))
    return 0


def _cmd_entries(args) -> int:
    from zoo.metrics.bootstrap import decimals

    _warn_unreadable(entries.scan(), "entries")
    names = entries.list_entries(args.pattern)
    if not names:
        return _none_match("entry", args.pattern, "entries")
    scores = {}
    for score in entries.published_scores():
        scores.setdefault(score["entry"], []).append(score)
    rows = []
    for name in names:
        size = entries.size(name) / 1e6
        published = ", ".join(
            f"{s['benchmark']} {s['metric']} {s['value']:.{decimals(s['low'], s['high'])}f}"
            for s in scores.get(name, [])) or "-"
        rows.append((name, published, f"{size:.1f} MB", entries.expected_input(name)))
    _print_table(("entry", "published score", "size", "input"), rows, right=(2,))
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
    params = "those of its handles" if info["params"] is None else f"{info['params']:,}"
    print(f"  parameters: {params}")
    print(f"  paper:      {info['paper']}")
    print("  config:")
    for key, value in info["config"].items():
        print(f"    {key}: {json.dumps(value)}")
    return 0


def _cmd_quickstart(args) -> int:
    from zoo import quickstart

    quickstart.run(steps=args.steps, out=args.out, seed=args.seed,
                   log=lambda message: print(message, flush=True))
    return 0


def _warn_unreadable(scan, command, skip=()):
    """One warning on stderr for each definition file that could not be used (the others are
    listed and shown as usual)."""
    for name, error in scan.problems.items():
        if name not in skip:
            print(f"zoo {command}: warning: skipped {error}", file=sys.stderr)


def _cmd_bench_list(args) -> int:
    from zoo.harness import benchmarks

    found = benchmarks.scan()
    _warn_unreadable(found, "bench list")
    specs = [found.registry.get(i) for i in found.registry.names(args.pattern)]
    if not specs:
        return _none_match("benchmark", args.pattern, "bench list")
    rows = [(s.id, f"v{s.version}", s.task, f"{s.dataset}/{s.split}", s.main_metric) for s in specs]
    _print_table(("benchmark", "version", "task", "data", "main metric"), rows)
    return 0


def _cmd_bench_show(args) -> int:
    from zoo.harness import benchmarks

    found = benchmarks.scan()
    _warn_unreadable(found, "bench show", skip=(args.id,))
    spec = benchmarks.get(args.id, found)
    print(json.dumps({"file": spec.path, **spec.to_dict()}, indent=2, ensure_ascii=False))
    return 0


def _cmd_bench_run(args) -> int:
    from zoo.harness import runner

    model, weights = args.model, args.weights
    if args.entry:
        import zoo

        if args.weights:
            raise UsageError("give --entry or --weights, not both")
        weights = zoo.entries.folder(args.entry)
        # A trained entry's recipe names its model; a converted one's conversion.json its family.
        model = model or zoo.entries.model_name_of(weights)
    if model is None:
        raise UsageError("--model NAME (or --entry ENTRY) is required")
    record, path = runner.run(
        model, args.benchmark, weights=weights, limit=args.limit,
        batch_size=args.batch_size, data_dir=args.data_dir, results_dir=args.results,
        command=["zoo", *args.argv] if args.command_line is None else args.command_line,
        safe_mode=not args.unsafe_allow_code, label_map=args.label_map,
        adapter=args.adapter, adapt=args.adapt or (),
    )
    _print_record(record)
    from zoo.harness import compression

    for line in compression.summary(record, path):  # a quantized entry: size, float entry
        print(line)
    print(f"wrote {path}")
    return 0


def _print_record(record: dict) -> None:
    """The run's scores on stdout, each rounded to what its 95% interval supports; an untrained
    model's run says first that it is a floor."""
    from zoo.metrics.bootstrap import format_interval

    if record["flags"].get("untrained"):
        print("untrained model: a floor, not a score (random weights; give --weights or "
              "--entry to score a trained model)")
    main = record["main_metric"]
    speed = record["throughput"]["examples_per_second"]
    print(f"{record['benchmark']['id']}: {main['name']} = "
          f"{format_interval(main['value'], main['low'], main['high'])} (95% interval) on "
          f"{record['benchmark']['examples']['evaluated']:,} examples, "
          + (f"{speed:,.0f} examples/s" if speed is not None else "all resumed"))
    for name, metric in record["metrics"].items():
        print(f"  {name:<16} {format_interval(metric['value'], metric['low'], metric['high'])}")


def _cmd_bench_compare(args) -> int:
    from zoo.harness.compare import compare

    result = compare(args.a, args.b, metric=args.metric)
    from zoo.metrics.bootstrap import decimals, format_interval

    verdict = "not significant"
    if result["significant"]:  # which is better, in words: on some metrics less is better
        verdict = f"significant, {result['better'].upper()} is better"
    places = decimals(result["low"], result["high"])  # the values to the difference's precision
    print(f"{result['metric']}: A {result['value_a']:.{places}f} vs B "
          f"{result['value_b']:.{places}f}, difference "
          f"{format_interval(result['delta'], result['low'], result['high'], sign=True)} "
          f"(95% interval), paired bootstrap p = {result['p_value']:.4f}: {verdict}")
    return 0


def _cmd_recipes(args) -> int:
    from zoo.training import recipes

    found = recipes.scan()
    _warn_unreadable(found, "recipes")
    names = found.registry.names(args.pattern)
    if not names:
        return _none_match("recipe", args.pattern, "recipes")
    rows = []
    for name in names:
        recipe = found.registry.get(name)
        rows.append((name, recipe.model, recipe.data_description, f"{recipe.steps:,}"))
    _print_table(("recipe (entry)", "model", "training data", "steps"), rows, right=(3,))
    return 0


def _cmd_init(args) -> int:
    from zoo.training import starter

    try:
        path = starter.write(args.file, args.model, task=args.task, files=args.files,
                             benchmark=args.benchmark)
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {path}; edit it, then: zoo train {path}")
    return 0


def _cmd_train(args) -> int:
    from zoo.training.train import train

    devices = args.devices.split(",") if args.devices else None
    result = train(
        args.recipe, out=args.out, strategy=args.strategy, devices=devices,
        data_dir=args.data_dir, steps=args.steps, precision=args.precision,
        jit_compile=args.jit_compile, seed=args.seed, deterministic=not args.nondeterministic,
        command=["zoo", *args.argv], safe_mode=not args.unsafe_allow_code,
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )
    summary = {k: (str(v) if k == "run_dir" else v) for k, v in result.items()}
    print(json.dumps(summary, sort_keys=True))
    return 0


def _cmd_export(args) -> int:
    if args.format == "hf":
        return _export_hf(args)
    from zoo.hub import export

    try:
        written = export.export_entry(args.entry, args.dir, parts=args.part, tar=args.tar,
                                      weights=args.weights, safe_mode=not args.unsafe_allow_code)
    except ValueError as error:
        if type(error) is not ValueError:
            raise
        raise UsageError(str(error)) from None
    for path in written:
        print(path)
    print(f"model card: {Path(args.dir) / 'MODEL_CARD.md'}")
    return 0


def _export_hf(args) -> int:
    """`zoo export ENTRY --format hf DIR`: Transformers' layout (`zoo.convert.hf_export`)."""
    from zoo.convert import hf_export

    unused = [flag for flag, given in (("--tar", args.tar), ("--part", args.part),
                                       ("--weights stored", args.weights == "stored")) if given]
    if unused:
        raise UsageError(f"{', '.join(unused)} go with --format tfhub, not hf")
    try:
        written = hf_export.export_entry(args.entry, args.dir, force=args.force,
                                         safe_mode=not args.unsafe_allow_code)
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    for path in written:
        print(path)
    return 0


def _cmd_convert(args) -> int:
    """`zoo convert SOURCE --to DIR`: the checkpoint as a zoo entry folder."""
    import zoo.convert
    from zoo.convert import entry, loading

    target = Path(args.to)
    try:
        entry.check_target(target, args.force, option="--to")
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    converted = loading.load(args.source, args.head, argument="--head")
    folder = zoo.convert.write_entry(converted, target, force=args.force,
                                     keras_file=args.keras)
    source = converted.source
    print(f"converted {source.location} ({source.format} {source.architecture}) to "
          f"{converted.family} {converted.head} {type(converted.model).__name__}: {folder}")
    for note in converted.notes:
        print(f"  note: {note}")
    return 0


def _cmd_quantize(args) -> int:
    """`zoo quantize ENTRY --mode MODE [--to DIR]`: the entry's compressed copy, ENTRY.MODE."""
    from zoo import quantize

    try:
        folder = quantize.quantize_entry(args.entry, args.mode, to=args.to, force=args.force,
                                         safe_mode=not args.unsafe_allow_code)
    except quantize.QuantizeError as error:
        raise UsageError(str(error)) from None
    info = json.loads((folder / entries.QUANTIZATION).read_text())
    print(f"{folder} ({args.mode}: {info['size_bytes'] / 1e6:.2f} MB on disk, float entry "
          f"{info['from_size_bytes'] / 1e6:.2f} MB, float32 weights "
          f"{info['float32_bytes'] / 1e6:.2f} MB)")
    if info.get("float_layers"):
        print(f"  kept in float (Keras does not quantize them): {', '.join(info['float_layers'])}")
    if args.mode == "int8" and info.get("from_storage") == "int8":
        print(f"  note: {info['from_entry']} stores its weight matrices as int8 rows (per input "
              "unit); these int8 weights (per output unit) are rounded from those, not from "
              "float32 weights")
    if folder.parent.resolve() not in {p.resolve() for p in entries.search_path()}:
        print(f"load it by name with ZOO_ENTRIES_PATH={folder.parent}", file=sys.stderr)
    return 0


def _cmd_publish(args) -> int:
    try:
        folder = entries.publish(args.run_dir, dest_root=args.dest, precision=args.precision,
                                 safe_mode=not args.unsafe_allow_code)
    except (ValueError, FileNotFoundError) as error:
        if type(error) not in (ValueError, FileNotFoundError):
            raise
        raise UsageError(f"{args.run_dir}: {error}") from None
    print(folder)
    if folder.parent.resolve() not in {p.resolve() for p in entries.search_path()}:
        print(f"load it by name with ZOO_ENTRIES_PATH={folder.parent}", file=sys.stderr)
    return 0


def _cmd_leaderboard_build(args) -> int:
    from zoo.leaderboard import site

    try:
        exports = args.exports or (EXPORTS if Path(EXPORTS).is_dir() else None)
        if exports is not None and not Path(exports).is_dir():
            raise UsageError(f"--exports {exports} is not a folder (of <entry>/<part>.tar.gz "
                             "archives, as scripts/export_entries.py writes)")
        report = site.build(args.results, args.out, force=args.force, exports_dir=exports,
                            warn=lambda message: print(f"warning: {message}", file=sys.stderr))
    except site.SiteError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {report['files']} files to {report['out']}"
          + (f" ({len(report['problems'])} problems, see warnings)" if report["problems"] else ""))
    return 0


def _cmd_leaderboard_serve(args) -> int:
    import functools
    import http.server

    folder = Path(args.dir).resolve()
    root = folder.parent if args.root is None else Path(args.root).resolve()
    if not (folder / "index.html").is_file():
        raise UsageError(f"{folder} holds no built site (index.html); run `zoo leaderboard build`.")
    if not folder.is_relative_to(root):
        raise UsageError(f"--dir {folder} is not inside --root {root}: serve a folder that holds "
                         "the site and the records it links (--root)")
    page = folder.relative_to(root).as_posix()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as error:  # the port is taken, privileged or out of range
        raise UsageError(f"cannot serve on 127.0.0.1:{args.port} ({error.strerror or error}); "
                         "choose another with --port N (--port 0 picks a free one)") from None
    with server:
        url = f"http://127.0.0.1:{server.server_address[1]}/{'' if page == '.' else page + '/'}"
        print(f"serving {folder} at {url} (Ctrl-C stops)", flush=True)
        server.serve_forever()
    return 0


def _add_unsafe_flag(parser, what: str) -> None:
    from zoo.safety import FLAG

    parser.add_argument(FLAG, action="store_true",
                        help=f"let code stored in {what} run as it loads (a Lambda layer, a "
                        "SavedModel graph that is not a zoo entry's); only for files you trust. "
                        "Without it such a file is refused (Keras' safe mode)")


def build_parser() -> argparse.ArgumentParser:
    from zoo import quickstart  # no TensorFlow: its defaults for the help
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="Keras 3 model zoo: models, benchmarks and a leaderboard.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's native log lines (oneDNN and CUDA notices, "
                        "absl warnings), which zoo keeps off the terminal by default")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list registered models", description="List registered models.")
    p.add_argument("pattern", nargs="?", help="shell-style pattern, e.g. 'vit_*'")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser(
        "entries", help="list published entries (trained models) with scores and inputs",
        description="List the published entries (trained weights, `zoo.load(NAME)`): each "
        "one's published benchmark score, size on disk and the input it expects.")
    p.add_argument("pattern", nargs="?", help="shell-style pattern, e.g. 'vit_*'")
    p.set_defaults(func=_cmd_entries)

    p = sub.add_parser("info", help="describe a model", description="Describe a registered model.")
    p.add_argument("name", help="model name (see `zoo list`)")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "quickstart",
        help="the whole pipeline on shipped data: recipes, training, benchmarks, leaderboard",
        description="Write a recipe for a tiny model of each family on data that ships with "
        "zoo (scikit-learn's digits, Tatoeba samples), train each with `zoo train`'s code, "
        "score each on its benchmark with `zoo bench run`'s code and build a leaderboard of "
        "the records: OUT/recipes, OUT/runs, OUT/results, OUT/site/index.html. A few minutes "
        "on two CPU cores; no download.")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps of every model, exactly (default: each model's own, "
                   f"{min(quickstart.DEFAULT_STEPS):,} to {max(quickstart.DEFAULT_STEPS):,})")
    p.add_argument("--out", default="runs/quickstart",
                   help="the quickstart's folder: new, empty or written by an earlier "
                   "quickstart, whose results it replaces (default runs/quickstart)")
    p.add_argument("--seed", type=int, default=0, help="every recipe's seed (default 0)")
    p.set_defaults(func=_cmd_quickstart)

    p = sub.add_parser("recipes", help="list training recipes (leaderboard entries)",
                       description="List the training recipes in zoo/recipes/ and $ZOO_RECIPES_PATH.")
    p.add_argument("pattern", nargs="?", help="shell-style pattern")
    p.set_defaults(func=_cmd_recipes)

    p = sub.add_parser(
        "init", help="write a commented starting recipe for a model and a task",
        description="Write a commented starting recipe (a new .toml file, never over an "
        "existing one) that trains MODEL for a task on your own files, or on a benchmark's "
        "training data, with the settings of a shipped recipe of the same model or family. "
        "Then: zoo train FILE.")
    p.add_argument("file", help="the recipe to write, e.g. my-tickets.toml (its name is the "
                   "run's entry name)")
    p.add_argument("--model", required=True, help="registered model name (see `zoo list`)")
    p.add_argument("--task", help="the task kind (default: the one the model's family serves, "
                   "or the benchmark's)")
    p.add_argument("--files", help="the training data, an existing file or folder: a TSV/CSV "
                   "of text and labels, a source<TAB>target TSV, a folder with a subfolder of "
                   "images per class, an .npz, a plain-text file (default: a placeholder path "
                   "to edit)")
    p.add_argument("--benchmark", help="train on this benchmark's training data (its "
                   "train_split or [train_files]) instead of files")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser(
        "train", help="train a recipe into a run folder (resumes if interrupted)",
        description="Train a recipe through tf.distribute into a run folder (model.keras, "
        "tokenizer/, recipe.json, run.json, history.jsonl, logs/, checkpoints/). Running the "
        "same command again resumes from the newest checkpoint.")
    p.add_argument("recipe", help="an entry name (see `zoo recipes`) or a recipe .toml file")
    p.add_argument("--out", help="run folder (default runs/<entry>)")
    p.add_argument("--strategy", default="auto", help="auto (default), default, one_device, "
                   "mirrored, multi_worker_mirrored, parameter_server or tpu")
    p.add_argument("--devices", help="comma-separated devices for one_device/mirrored, e.g. "
                   "/cpu:0,/cpu:1 (split the CPU with ZOO_CPU_DEVICES=2)")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--steps", type=int, help="override the recipe's optimizer steps")
    p.add_argument("--precision", choices=training_precision.CHOICES,
                   help="override the recipe's precision (auto: the fastest measured correct "
                        "for the device; see zoo/training/precision.py)")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                   help="compile the step with XLA")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--nondeterministic", action="store_true",
                   help="skip TensorFlow's op determinism (faster on some devices)")
    _add_unsafe_flag(p, "the init_from model")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "export", help="export an entry as TF Hub SavedModels",
        description="Write an entry as SavedModels that follow TF Hub's common signatures, "
        "one folder per export part its family declares (zoo/models/<family>/family.py; e.g. "
        "a ViT's classifier and feature_vector), with a model card.")
    p.add_argument("entry", help="an entry name (see `zoo bench run --entry`) or entry folder")
    p.add_argument("dir", help="output folder")
    p.add_argument("--format", choices=["tfhub", "hf"], default="tfhub",
                   help="tfhub: TF Hub SavedModels (default); hf: Transformers' layout "
                   "(config.json, model.safetensors, tokenizer files) for the families that "
                   "have one")
    p.add_argument("--force", action="store_true",
                   help="(--format hf) replace DIR when it exists and is not empty")
    p.add_argument("--tar", action="store_true", help="also write <part>.tar.gz archives")
    p.add_argument("--part", action="append", help="export only this part (repeatable)")
    p.add_argument("--weights", choices=["float32", "stored"], default="float32",
                   help="float32: fine-tunable variables (default); stored: as the entry stores "
                   "them (float16 or int8), inference only, half or a quarter of the size")
    _add_unsafe_flag(p, "the entry")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "convert", help="convert another library's checkpoint into a zoo entry folder",
        description="Convert a checkpoint of another library into a zoo entry folder "
        "(model.json, float32 weights.npz, tokenizer/, conversion.json with the source and the "
        "sha256 of each file read): Transformers' layout (config.json + model.safetensors), a "
        "KerasHub preset, Google's original BERT checkpoint or timm's safetensors, as a local "
        "folder or hf://ORG/NAME[@REVISION] (downloaded into zoo's cache, sha256-checked; "
        "$ZOO_HF_ENDPOINT names another hub). Load it with zoo.entries.load_folder(DIR); with DIR "
        "in runs/ or on $ZOO_ENTRIES_PATH, score it with `zoo bench run --entry NAME`, start a "
        "recipe from it with init_from = NAME, export it with `zoo export DIR OUT` (TF Hub) or "
        "`zoo export DIR --format hf OUT` (Transformers).")
    p.add_argument("source", help="a checkpoint folder, or hf://ORG/NAME[@REVISION]")
    p.add_argument("--to", required=True, help="the entry folder to write (new or empty)")
    p.add_argument("--head", help="the zoo head to build (e.g. backbone, masked_lm, "
                   "classifier; default: the checkpoint's own)")
    p.add_argument("--keras", action="store_true", help="also write DIR/model.keras")
    p.add_argument("--force", action="store_true", help="replace --to if it is not empty")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser(
        "publish", help="turn a finished run into an entry folder",
        description="Copy a finished training run into an entry folder: model.json, weights "
        "(float16 by default), tokenizer/, run.json, recipe.json.")
    p.add_argument("run_dir", help="the run folder `zoo train` wrote (or a published entry's "
                   "folder, to store its weights again in a narrower precision)")
    p.add_argument("--dest", help="folder of entry folders (default: zoo/entries/ in a "
                   "checkout, else entries/ here)")
    p.add_argument("--precision", default="float16", choices=entries.STORAGE_PRECISIONS,
                   help="how weights are stored (int8: matrices quantized with a scale per "
                   "row, for large entries; measure the entry after publishing)")
    _add_unsafe_flag(p, "the run's model")
    p.set_defaults(func=_cmd_publish)

    p = sub.add_parser(
        "quantize", help="a compressed copy of an entry (int8, int8-weights, float16)",
        description="Write ENTRY.MODE, a compressed copy of an entry, as an entry folder: int8 "
        "(Keras' model.quantize: int8 weights with a scale per output unit, inputs quantized "
        "per row), int8-weights (int8 storage, float32 compute) or float16 (float16 storage). "
        "quantization.json records the mode, the float entry and its weights' sha256 and the "
        "sizes; `zoo bench run --entry ENTRY.MODE` scores it beside its float entry.")
    p.add_argument("entry", help="a published entry (see `zoo entries`) or an entry folder")
    p.add_argument("--mode", required=True, help="int8, int8-weights or float16")
    p.add_argument("--to", help="folder of entry folders (default: zoo/entries/ in a checkout, "
                   "else entries/ here)")
    p.add_argument("--force", action="store_true", help="replace ENTRY.MODE if it exists")
    _add_unsafe_flag(p, "the entry's model")
    p.set_defaults(func=_cmd_quantize)

    board = sub.add_parser("leaderboard", help="build or serve the static leaderboard site",
                           description="The static leaderboard, built from result records.")
    board_sub = board.add_subparsers(dest="leaderboard_command", metavar="ACTION")
    board_sub.required = True
    p = board_sub.add_parser("build", help="build the site from the result records",
                             description="Build the static site (HTML, CSS, SVG, PNG, JSON, "
                             "CSV). Pages link the records and archives where they lie; the "
                             "site copies none.")
    p.add_argument("--results", default="benchmarks/results", help="folder of result records")
    p.add_argument("--out", default="leaderboard",
                   help="the site's folder, replaced as a whole by each build (default "
                   "leaderboard)")
    p.add_argument("--exports", help="folder of exported TF Hub archives "
                   "(<entry>/<part>.tar.gz) that entry pages link, where they lie (default "
                   f"{EXPORTS}, if present)")
    p.add_argument("--force", action="store_true",
                   help="replace --out even if it is a folder that is not a zoo site")
    p.set_defaults(func=_cmd_leaderboard_build)
    p = board_sub.add_parser("serve", help="serve the built site on 127.0.0.1",
                             description="Serve the built site on 127.0.0.1 for a local look.")
    p.add_argument("--dir", default="leaderboard", help="the built site")
    p.add_argument("--root", help="the folder served, which holds the site and the records and "
                   "archives its pages link (default: the site's parent: a checkout's root for "
                   "leaderboard/)")
    p.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    p.set_defaults(func=_cmd_leaderboard_serve)

    bench = sub.add_parser("bench", help="benchmarks: list, show, run, compare",
                           description="Benchmarks declared as data: zoo/benchmarks/*.toml "
                           "and the folders on $ZOO_BENCHMARKS_PATH.")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="ACTION")
    bench_sub.required = True
    p = bench_sub.add_parser("list", help="list benchmarks", description="List benchmarks.")
    p.add_argument("pattern", nargs="?", help="shell-style pattern")
    p.set_defaults(func=_cmd_bench_list)
    p = bench_sub.add_parser("show", help="show a benchmark's definition",
                             description="Print a benchmark's definition as JSON.")
    p.add_argument("id", help="benchmark id (see `zoo bench list`)")
    p.set_defaults(func=_cmd_bench_show)
    p = bench_sub.add_parser(
        "run", help="evaluate a model on a benchmark and write a result record",
        description="Evaluate a model on a benchmark; write a result record (JSON) and its "
        "per-example predictions (JSON lines) under --results/<benchmark>/.")
    p.add_argument("--model", help="registered model name (see `zoo list`), or a model zoo did "
                   "not train: a .keras file, a SavedModel folder or .tar.gz, a URL, a TF Hub "
                   "/ Kaggle handle or zoo:ENTRY/PART (with --adapter)")
    p.add_argument("--entry", help="a published entry (zoo/entries/), instead of --model and "
                   "--weights")
    p.add_argument("--benchmark", required=True, help="benchmark id (see `zoo bench list`)")
    p.add_argument("--weights", help="a .keras file or a run folder (model.keras, tokenizer/); "
                   "without it the model has random weights")
    p.add_argument("--adapter", metavar="FILE",
                   help="how to call a model zoo did not train: a .toml or .json file of "
                   "labels (its class names, in output order) or labels_file, outputs (logits or "
                   "probabilities), signature, output_key, image_size, channels, input_range, "
                   "mean, std, layout, preprocessor, name (see the README, \"Your own model\")")
    p.add_argument("--adapt", action="append", metavar="KEY=VALUE",
                   help="an adapter field, over the --adapter file's (repeatable), e.g. "
                   "--adapt outputs=probabilities --adapt 'input_range=[0, 255]'")
    p.add_argument("--limit", type=int, help="evaluate only the first N examples")
    p.add_argument("--label-map", metavar="MODEL=BENCHMARK,...",
                   help="which of the model's classes is which benchmark label, e.g. "
                   "negative=ham,positive=spam, when its class names differ from the "
                   "benchmark's (without it such a model is refused); recorded in the result")
    p.add_argument("--batch-size", type=int, default=64, help="examples per batch (default 64)")
    p.add_argument("--data-dir", help="folder holding the dataset files (else $ZOO_DATA_DIR, "
                   "else the download cache)")
    p.add_argument("--results", default=USER_RESULTS,
                   help=f"where records are written (default {USER_RESULTS}, outside the "
                   "published records; publish with --results benchmarks/results)")
    _add_unsafe_flag(p, "the --weights, --entry or --model .keras model")
    p.set_defaults(func=_cmd_bench_run, command_line=None)
    p = bench_sub.add_parser(
        "compare", help="paired bootstrap test between two result records",
        description="Is record A different from record B beyond resampling noise?")
    p.add_argument("a", help="result record (JSON)")
    p.add_argument("b", help="result record (JSON)")
    p.add_argument("--metric", help="metric to compare (default: the benchmark's main metric)")
    p.set_defaults(func=_cmd_bench_compare)
    return parser


def _version() -> str:
    from zoo import __version__

    return f"zoo {__version__}"


def main(argv: list[str] | None = None) -> int:
    """Runs a `zoo` command; returns its exit code. As the program (`argv` None: the command
    line), TensorFlow's native log lines are kept off the terminal unless `--verbose`
    (`zoo.quiet`); called with `argv` from Python, the caller's streams are left alone."""
    from zoo import quiet

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if args.command in ("quickstart", "train") and args.steps is not None and args.steps <= 0:
        parser.error("--steps must be a positive number of training steps")
    with quiet.quiet(enabled=argv is None and not args.verbose):
        return _run(args)


def _one_line(error) -> str:
    """An error's message on one line: a library's message that spans lines (tarfile's, one
    line per method it tried) joined by spaces.

    >>> _one_line(ValueError("could not open:\\n- method gz: not gzip\\n- method xz: not xz"))
    'could not open: - method gz: not gzip - method xz: not xz'
    """
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _run(args) -> int:
    """The command `args` names, its errors printed as one line with the exit code they
    mean."""
    from zoo.checkpoints.errors import ConversionError
    from zoo.datasets.errors import DatasetError
    from zoo.harness.benchmarks import BenchmarkError
    from zoo.hub.resolve import HubError
    from zoo.models.catalog import FamilyError
    from zoo.quickstart import QuickstartError
    from zoo.records import RecordError
    from zoo.registry import UnknownNameError
    from zoo.safety import LinkedFileError, ModelFileError, UnsafeCodeError
    from zoo.tasks import EvaluationError, TaskError
    from zoo.training import RecipeError, StrategyError, TrainingError

    try:
        return args.func(args)
    except (UnknownNameError, UsageError, BenchmarkError, EvaluationError, RecipeError,
            StrategyError, HubError, UnsafeCodeError, LinkedFileError, ModelFileError,
            QuickstartError, entries.EntryError, FamilyError, TaskError,
            ConversionError) as error:
        print(f"zoo {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except (RecordError, DatasetError, TrainingError) as error:
        print(f"zoo {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
