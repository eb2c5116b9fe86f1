import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def gen():
    """A seeded torch Generator (tests never touch global RNG state)."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; tests needing it skip when it is absent."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"MNIST data folder not found at {path}")
    return path


@pytest.fixture
def one_torch_thread():
    """Run a test on one torch thread (small-tensor sweeps; faster on a shared CPU), then restore."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
