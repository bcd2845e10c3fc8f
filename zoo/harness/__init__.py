"""The evaluation harness: benchmarks as data, label matching, the runner (each task kind's
predictions and scores: `zoo.tasks`) and paired comparison of result records."""
