"""A converted checkpoint (`zoo convert`) on a benchmark: refused up front, before any data or
model is loaded, when its head does not do the benchmark's task (a bare BERT backbone, which
outputs hidden states, on a classification benchmark; a ViT converted from `ViTModel`, which
outputs features)."""

from __future__ import annotations

from pathlib import Path

from zoo import entries
from zoo.models import catalog
from zoo.tasks import EvaluationError


def check_fits(weights, spec) -> None:
    """EvaluationError when `weights` is a converted entry folder whose `conversion.json` task
    (the kind its head serves; None for a backbone or a classifier without classes) is not
    the benchmark `spec`'s task, naming its head, what the benchmark needs and how to convert
    a checkpoint with that head. Anything else (a trained entry, a `.keras` file) passes."""
    if weights is None:
        return
    folder = Path(weights)
    record = entries.conversion(folder) if folder.is_dir() else None
    if record is None or record.get("task") == spec.task:
        return
    family_name = record.get("family")
    family = catalog.families().get(family_name)
    needed = (family.serves.get(spec.task) or family.default_head) \
        if family is not None and spec.task in family.serves else None
    head = record.get("head")
    what = (f"its '{head}' head" if head != needed else
            f"its '{head}' head without classes ({record.get('class')} with num_classes 0)")
    does = (f"does the {record['task']} task" if record.get("task") else
            "outputs features (hidden states), which no benchmark task scores")
    fixes = []
    if needed is not None:
        fixes.append(f"convert a checkpoint that has a trained '{needed}' head: zoo convert "
                     f"SOURCE --to DIR --head {needed} (from {record.get('architecture')}, "
                     f"which has none, that head would start untrained)")
    if family is not None and family.transfer:
        fixes.append(f"fine-tune it for the task: zoo train a recipe of a {family_name} model "
                     f"with init_from = \"{folder.name}\"")
    raise EvaluationError(
        f"{folder.name} is a converted {family_name} checkpoint ({record.get('architecture')} "
        f"from {record.get('location')}): {what} {does}, but benchmark '{spec.id}' (task "
        f"{spec.task}) needs {'a ' + repr(needed) + ' head' if needed else 'a model of that task'}"
        f"{'; ' + '; or '.join(fixes) if fixes else ''}.")
