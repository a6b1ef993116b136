"""DataLoader(num_workers > 0): worker processes, order, seeding, errors, no hangs, no leftovers.

Every test runs under a hard SIGALRM deadline, so a hang fails the test instead of the suite.
"""

import gc
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    get_worker_info,
)

DEADLINE = 60  # seconds for any one test


@pytest.fixture(autouse=True)
def hard_deadline():
    def fail(signum, frame):
        raise TimeoutError(f"test exceeded its hard deadline of {DEADLINE} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(DEADLINE)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
    # no worker left behind by any test (an iterator caught in a traceback's reference
    # cycle is freed by the cycle collector)
    gc.collect()
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i


def labels(loader):
    return [b[1].numpy().tolist() for b in loader]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_same_batches_in_the_same_order_as_in_process(workers):
    ds = Squares(23)
    cr.manual_seed(7)
    expected = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, 4, shuffle=True)]
    cr.manual_seed(7)
    got = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, 4, shuffle=True, num_workers=workers)]
    assert len(got) == len(expected) == 6
    for (x0, y0), (x1, y1) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    assert x1.dtype == np.float32


def test_builtin_dataset_and_tensor_dataset_with_workers():
    ds = cr.datasets.Digits(train=False)
    a = list(DataLoader(ds, 64, num_workers=2))
    b = list(DataLoader(ds, 64))
    assert all(np.array_equal(x.numpy(), y.numpy()) for (x, _), (y, _) in zip(a, b, strict=True))
    td = TensorDataset(cr.arange(10.0), cr.arange(10))
    assert labels(DataLoader(td, 3, num_workers=2, drop_last=True)) == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7, 8],
    ]


def test_sampler_batch_sampler_collate_fn_and_unbatched():
    ds = Squares(10)
    assert labels(DataLoader(ds, 2, sampler=[9, 1, 4], num_workers=2)) == [[9, 1], [4]]
    assert labels(DataLoader(ds, batch_sampler=[[3, 1], [0], [7, 8]], num_workers=2)) == [
        [3, 1],
        [0],
        [7, 8],
    ]
    sums = list(DataLoader(ds, 5, collate_fn=lambda s: sum(i for _, i in s), num_workers=2))
    assert sums == [10, 35]
    single = list(DataLoader(ds, batch_size=None, num_workers=2))
    assert [int(y) for _, y in single] == list(range(10))


class SplitStream(IterableDataset):
    """0..n-1, each worker reading its own share (as PyTorch's docs show)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_split_by_worker_info():
    batches = [b.numpy().tolist() for b in DataLoader(SplitStream(10), 2, num_workers=2)]
    # batches alternate between the workers, as in PyTorch: worker 0 reads 0,2,4,6,8
    assert batches == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    assert sorted(sum(batches, [])) == list(range(10))


class WorkerSeeds(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([info.id, info.seed, info.num_workers]), float(cr.rand(1).item())


def test_workers_are_seeded_base_seed_plus_id_and_reproducibly():
    assert get_worker_info() is None
    cr.manual_seed(3)
    first = list(DataLoader(WorkerSeeds(), 2, num_workers=2))
    ids = [b[0][0, 0].item() for b in first]
    seeds = [b[0][0, 1].item() for b in first]
    assert ids == [0, 1, 0, 1]
    assert seeds[1] == seeds[0] + 1 and seeds[2] == seeds[0]
    assert all(b[0][0, 2].item() == 2 for b in first)
    cr.manual_seed(3)
    again = list(DataLoader(WorkerSeeds(), 2, num_workers=2))
    assert [b[1].numpy().tolist() for b in again] == [b[1].numpy().tolist() for b in first]
    # a new epoch gives the workers a new base seed
    loader = DataLoader(WorkerSeeds(), 2, num_workers=2)
    assert list(loader)[0][0][0, 1].item() != list(loader)[0][0][0, 1].item()


def test_worker_init_fn_runs_in_each_worker():
    class Pid(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.array([os.getpid(), int(os.environ.get("CR_TEST_WORKER", -1))])

    def init(worker_id):
        os.environ["CR_TEST_WORKER"] = str(worker_id)

    rows = [b.numpy() for b in DataLoader(Pid(), 2, num_workers=2, worker_init_fn=init)]
    assert [r[0, 1] for r in rows] == [0, 1]
    assert os.getpid() not in {int(r[0, 0]) for r in rows}
    assert "CR_TEST_WORKER" not in os.environ


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"no sample {i}")
        if i == 6:
            raise ValueError("bad sample 6")
        return i


def test_worker_exception_reaches_the_caller_with_its_traceback():
    loader = DataLoader(Failing(), 2, num_workers=2)
    it = iter(loader)
    assert next(it).numpy().tolist() == [0, 1]
    assert next(it).numpy().tolist() == [2, 3]
    with pytest.raises(KeyError) as info:
        next(it)
    text = str(info.value)
    assert "Caught KeyError in DataLoader worker process 0" in text
    assert "Traceback (most recent call last)" in text and "no sample 5" in text
    assert "__getitem__" in text
    with pytest.raises(ValueError, match="bad sample 6"):
        next(it)
    del it


def test_exception_in_worker_init_fn_and_unpicklable_batch():
    def init(worker_id):
        raise OSError("cannot open the shard")

    with pytest.raises(OSError, match="cannot open the shard"):
        list(DataLoader(Squares(4), 2, num_workers=1, worker_init_fn=init))
    with pytest.raises(RuntimeError, match="cannot be sent to the main process"):
        list(DataLoader(Squares(4), 2, num_workers=1, collate_fn=lambda s: lambda: s))


class Slow(Dataset):
    def __init__(self, n, delay):
        self.n, self.delay = n, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay)
        return i


def test_a_killed_worker_is_an_error_not_a_hang():
    loader = DataLoader(Slow(40, 0.05), 2, num_workers=2)
    it = iter(loader)
    next(it)
    victim = it._workers[1]
    os.kill(victim.pid, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(
        RuntimeError,
        match=rf"DataLoader worker \(pid\(s\) {victim.pid}\) exited unexpectedly.*SIGKILL",
    ):
        for _ in it:
            pass
    assert time.monotonic() - start < 10
    assert all(not w.is_alive() for w in it._workers)


def big_batch(samples):
    return np.zeros(4_000_000)  # 32 MB: far more than a pipe holds


def test_a_worker_killed_while_sending_a_batch_is_an_error_not_a_hang():
    loader = DataLoader(Squares(4), 2, num_workers=1, collate_fn=big_batch)
    it = iter(loader)
    time.sleep(1.0)  # the worker has made batch 0 and is blocked writing it into the pipe
    os.kill(it._workers[0].pid, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(
        RuntimeError, match="exited unexpectedly: worker 0 killed by signal SIGKILL"
    ):
        for _ in it:
            pass
    assert time.monotonic() - start < 10


def test_timeout_bounds_the_wait_for_a_batch():
    loader = DataLoader(Slow(4, 1.0), 2, num_workers=1, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(iter(loader))
    assert time.monotonic() - start < 5


def test_breaking_out_or_dropping_the_iterator_stops_the_workers():
    loader = DataLoader(Slow(100, 0.01), 2, num_workers=2)
    for k, _ in enumerate(loader):
        if k == 2:
            break
    it = iter(loader)
    next(it)
    workers = list(it._workers)
    del it  # garbage collected: the workers are stopped
    assert all(not w.is_alive() for w in workers)


def test_persistent_workers_survive_epochs_and_restart_cleanly():
    loader = DataLoader(Squares(9), 4, shuffle=True, num_workers=2, persistent_workers=True)
    cr.manual_seed(1)
    epochs = [labels(loader) for _ in range(3)]
    pids = [w.pid for w in loader._iterator._workers]
    assert all(sorted(sum(e, [])) == list(range(9)) for e in epochs)
    cr.manual_seed(1)
    reference = DataLoader(Squares(9), 4, shuffle=True)
    assert epochs == [labels(reference) for _ in range(3)]
    # an epoch abandoned half way does not leak batches into the next one
    it = iter(loader)
    next(it)
    assert labels(loader) and [w.pid for w in loader._iterator._workers] == pids
    loader._iterator.close()


def test_iterable_dataset_persistent_workers_restart_their_streams():
    loader = DataLoader(SplitStream(6), 2, num_workers=2, persistent_workers=True)
    first, second = [b.numpy().tolist() for b in loader], [b.numpy().tolist() for b in loader]
    assert first == second == [[0, 2], [1, 3], [4], [5]]
    loader._iterator.close()


def test_spawn_context_with_a_picklable_dataset():
    td = TensorDataset(cr.arange(6.0), cr.arange(6))
    loader = DataLoader(td, 4, num_workers=1, multiprocessing_context="spawn")
    assert labels(loader) == [[0, 1, 2, 3], [4, 5]]


def test_worker_argument_errors():
    ds = Squares(4)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="multiprocessing_context option should specify"):
        DataLoader(ds, num_workers=1, multiprocessing_context="teleport")
    loader = DataLoader(ds, num_workers=2, pin_memory=True, prefetch_factor=1)
    assert loader.prefetch_factor == 1 and loader.pin_memory
    assert DataLoader(ds, num_workers=2).prefetch_factor == 2
    assert labels(loader) == [[0], [1], [2], [3]]


def test_random_transforms_in_workers_repeat_with_the_seed():
    images = np.arange(4 * 6 * 6 * 3, dtype=np.uint8).reshape(4, 6, 6, 3)

    class Images(Dataset):
        def __init__(self, transform):
            self.transform = transform

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return self.transform(images[i])

    T = cr.transforms
    augment = T.Compose([T.RandomCrop(4, padding=1), T.RandomHorizontalFlip(), T.ToTensor()])
    runs = []
    for _ in range(2):
        cr.manual_seed(11)
        runs.append(
            np.concatenate([b.numpy() for b in DataLoader(Images(augment), 2, num_workers=2)])
        )
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape == (4, 3, 4, 4) and runs[0].dtype == np.float32


PARENT_SCRIPT = """
import os, sys, time
import numpy as np
import chainrule as cr
from chainrule.utils.data import DataLoader, Dataset

class Slow(Dataset):
    def __len__(self):
        return 100
    def __getitem__(self, i):
        if i >= 2:
            time.sleep(30)  # a long fetch: the worker is busy when its parent dies
        return np.zeros(2_000_000)  # and the first batches are big: blocked writing

it = iter(DataLoader(Slow(), batch_size=1, num_workers=2))
time.sleep(1.5)
print(" ".join(str(w.pid) for w in it._workers), flush=True)
os.kill(os.getpid(), 9)
"""


def test_workers_leave_when_their_parent_is_killed():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PARENT_SCRIPT], capture_output=True, text=True, timeout=40
    )
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2, done.stderr
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and not _zombie(p)]
    assert alive == [], f"workers {alive} outlived their parent"


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False
