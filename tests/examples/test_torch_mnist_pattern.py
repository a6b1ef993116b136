"""The data side of PyTorch's own MNIST example (pytorch/examples, mnist/main.py), in
chainrule: ``datasets.MNIST(root, train=True, download=True, transform=Compose([ToTensor(),
Normalize((0.1307,), (0.3081,))]))`` with the files present, ``DataLoader(**kwargs)`` with
the example's CUDA kwargs (``num_workers=1, pin_memory=True, shuffle=True``), its Net
(Conv2d, Dropout, max_pool2d, flatten, log_softmax), ``nll_loss`` and ``StepLR``.
The code here is written for this test; it follows the example's calls, not its text.
"""

import gzip
import hashlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets, nn, optim, transforms
from chainrule.nn import functional as F


def write_mnist(raw, n_train=64, n_test=32):
    rng = np.random.default_rng(0)
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 30, (n, 28, 28), dtype=np.uint8)
        for k, label in enumerate(labels):
            images[k, 2 * label : 2 * label + 6, 4:24] = 255  # a bar whose row is the label
        for kind, magic, array in (("images-idx3", 0x803, images), ("labels-idx1", 0x801, labels)):
            header = np.array([magic, *array.shape], dtype=">u4").tobytes()
            (raw / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(header + array.tobytes()))


class ExampleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = cr.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


@pytest.fixture
def one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def test_the_mnist_example_data_pipeline_runs(tmp_path, monkeypatch, one_blas_thread):
    write_mnist(tmp_path / "data" / "MNIST" / "raw")
    # download=True checks the files it finds against MNIST's MD5 sums: give it our files' sums
    raw = tmp_path / "data" / "MNIST" / "raw"
    sums = [(name, hashlib.md5((raw / name).read_bytes()).hexdigest())
            for name, _ in datasets.MNIST.resources]
    monkeypatch.setattr(datasets.MNIST, "resources", sums)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    cr.manual_seed(1)
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    train_set = datasets.MNIST("../data", train=True, download=True, transform=transform)
    test_set = datasets.MNIST("../data", train=False, transform=transform)
    cuda_kwargs = {"num_workers": 1, "pin_memory": True, "shuffle": True}
    train_loader = cr.utils.data.DataLoader(train_set, **{"batch_size": 16, **cuda_kwargs})
    test_loader = cr.utils.data.DataLoader(test_set, **{"batch_size": 1000, **cuda_kwargs})
    model = ExampleNet()
    adadelta = getattr(optim, "Adadelta", None)
    optimizer = (
        adadelta(model.parameters(), lr=1.0) if adadelta else optim.SGD(model.parameters(), lr=0.05)
    )
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    model.train()
    seen = 0
    for data, target in train_loader:
        assert data.shape == (16, 1, 28, 28) and data.dtype == cr.float32
        assert abs(float(data.numpy().min()) + 0.1307 / 0.3081) < 1e-5
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        seen += len(data)
    assert seen == len(train_loader.dataset) == 64
    scheduler.step()
    model.eval()
    correct, total_loss = 0, 0.0
    with cr.no_grad():
        for data, target in test_loader:
            output = model(data)
            total_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    assert np.isfinite(total_loss) and 0 <= correct <= len(test_loader.dataset) == 32
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.7 * (1.0 if adadelta else 0.05))
