import os
import sys
from pathlib import Path

import pytest
import torch

TRAINING = Path(__file__).resolve().parents[1]
REPO = TRAINING.parent
SHARED = REPO.parent / "shared"
PACK = REPO / "public" / "models" / "shapes-int8"
sys.path.insert(0, str(TRAINING))
# two threads, or the cores' share of each process where pytest-xdist runs several (`npm test`: one per core);
# TORCH_THREADS too, which the recipe's setup_threads() reads when a test trains in this process
THREADS = max(1, min(2, len(os.sched_getaffinity(0)) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
torch.set_num_threads(THREADS)
os.environ.setdefault("TORCH_THREADS", str(THREADS))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "fixtures").exists():
        pytest.fail(f"../shared is missing beside the repository ({SHARED}); tests read fixtures from it")
    return SHARED
