import sys
from pathlib import Path

import pytest
import torch

TRAINING = Path(__file__).resolve().parents[1]
REPO = TRAINING.parent
SHARED = REPO.parent / "shared"
PACK = REPO / "public" / "models" / "shapes-int8"
sys.path.insert(0, str(TRAINING))
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "fixtures").exists():
        pytest.fail(f"../shared is missing beside the repository ({SHARED}); tests read fixtures from it")
    return SHARED
