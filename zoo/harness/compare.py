"""Paired bootstrap comparison of two result records on the same benchmark."""

from __future__ import annotations

from zoo import records, tasks
from zoo.harness import benchmarks
from zoo.metrics import bootstrap
from zoo.tasks import EvaluationError


def compare(path_a, path_b, metric=None) -> dict:
    """Is record A's score different from record B's beyond resampling noise?

    Both records must be of the same benchmark version and the same examples;
    each metric is recomputed from the stored predictions on the shared
    resample indices, so the test is paired.
    """
    a, b = records.read(path_a), records.read(path_b)
    for key in ("id", "version", "data_sha256"):
        if a["benchmark"][key] != b["benchmark"][key]:
            raise EvaluationError(
                f"The records differ in benchmark {key} ({a['benchmark'][key]} vs "
                f"{b['benchmark'][key]}): only runs of one benchmark on the same data compare."
            )
    if a["benchmark"]["examples"]["evaluated"] != b["benchmark"]["examples"]["evaluated"]:
        raise EvaluationError("The records were scored on different numbers of examples (--limit).")
    resampled = [(r["seeds"]["bootstrap"], r["evaluation"]["bootstrap"]["resamples"]) for r in (a, b)]
    if resampled[0] != resampled[1]:
        raise EvaluationError(
            f"The records were resampled differently (bootstrap seed and resamples {resampled[0]} "
            f"vs {resampled[1]}): a paired test needs the same resamples; rerun one of them.")
    spec = benchmarks.BenchmarkSpec(**{
        k: (tuple(v) if k in ("metrics", "labels") and v is not None else v)
        for k, v in a["benchmark"]["definition"].items() if k != "higher_is_better"
    })
    rows_a, rows_b = records.read_predictions(path_a), records.read_predictions(path_b)
    idx = bootstrap.indices(len(rows_a), resampled[0][1], resampled[0][0])  # as recorded
    return {"benchmark": spec.id, "a": str(path_a), "b": str(path_b),
            **paired(spec, rows_a, rows_b, idx, metric)}


def paired(spec, rows_a, rows_b, idx, metric=None) -> dict:
    """The paired bootstrap test of two runs' prediction rows on the same examples, each
    metric recomputed on the same resample indices `idx` (`[resamples, examples]`): metric,
    value_a, value_b, delta (a - b), low, high, p_value, significant, better
    (`zoo.metrics.bootstrap.paired_test`). `metric` None: the benchmark's main metric."""
    metric = metric or spec.main_metric
    kind = tasks.get(spec.task)
    found_a, samples_a, _ = kind.score(spec, None, rows_a, idx)
    found_b, samples_b, _ = kind.score(spec, None, rows_b, idx)
    if metric not in samples_a:
        raise EvaluationError(f"Metric '{metric}' cannot be compared from predictions; "
                         f"choose from {', '.join(samples_a)}.")
    result = bootstrap.paired_test(
        samples_a[metric], samples_b[metric], found_a[metric]["value"], found_b[metric]["value"],
        higher_is_better=metric not in kind.LOWER_IS_BETTER,
    )
    return {"metric": metric, "value_a": found_a[metric]["value"],
            "value_b": found_b[metric]["value"], **result}
