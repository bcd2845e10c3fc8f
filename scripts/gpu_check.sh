#!/usr/bin/env bash
# GPU check: every model family trains a few hundred steps with --precision auto (mixed
# float16 with loss scaling on a tensor-core GPU), XLA, and MirroredStrategy over all visible
# GPUs; checks that every loss is finite and that short real runs reach their float32
# accuracy; prints examples/s, tokens/s and MFU against the GPU's measured matmul peak; writes
# a JSON report (default benchmarks/performance/<date>-gpu-check.json; --out FILE).
#
#   scripts/gpu_check.sh            # on a GPU machine: about 6 minutes on one H200
#   scripts/gpu_check.sh --quick    # on any machine (CPU): tiny models, a few steps
#
# Every option: scripts/gpu_check.sh --help (scripts/gpu_check.py's docstring says more).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
exec "$python" "$root/scripts/gpu_check.py" "$@"
