"""cr.datasets.CIFAR10: the binary files, the archive, errors naming the file, downloads.

The files are tiny ones written here; the download comes from a server on 127.0.0.1.
"""

import contextlib
import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import CIFAR10
from chainrule.datasets.mnist import DatasetNotFoundError
from chainrule.utils.data import DataLoader

TRAIN = [f"data_batch_{k}.bin" for k in range(1, 6)]
TEST = ["test_batch.bin"]


def records(n, seed):
    """n random records: bytes, labels (n,), images (n, 32, 32, 3) in HWC order."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    chw = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([labels[:, None], chw.reshape(n, -1)], axis=1).tobytes()
    return raw, labels, chw.transpose(0, 2, 3, 1)


def write_bins(folder, names, n=3, seed=0):
    os.makedirs(folder, exist_ok=True)
    labels, images = [], []
    for k, name in enumerate(names):
        raw, lab, img = records(n, seed + k)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(raw)
        labels.append(lab)
        images.append(img)
    return np.concatenate(labels), np.concatenate(images)


def write_archive(path, n=2, seed=0, names=(*TRAIN, *TEST)):
    expected = {}
    with tarfile.open(path, "w:gz") as tar:
        for k, name in enumerate(names):
            raw, lab, img = records(n, seed + k)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
            expected[name] = (lab, img)
    return expected


def test_reads_both_splits_from_the_batches_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    labels, images = write_bins(folder, TRAIN, n=3, seed=0)
    test_labels, test_images = write_bins(folder, TEST, n=4, seed=50)
    train = CIFAR10(tmp_path)
    assert len(train) == 15 and train.classes[0] == "airplane" and len(train.classes) == 10
    image, label = train[7]
    assert isinstance(image, np.ndarray) and image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert type(label) is int and label == labels[7]
    np.testing.assert_array_equal(image, images[7])
    test = CIFAR10(str(tmp_path), train=False)
    assert len(test) == 4
    np.testing.assert_array_equal(test[3][0], test_images[3])
    assert test.class_to_idx["truck"] == 9
    assert "Split: Test" in repr(test) and "Number of datapoints: 4" in repr(test)


def test_each_split_reads_only_its_own_files(tmp_path):
    write_bins(tmp_path / "cifar-10-batches-bin", TEST, n=2)
    assert len(CIFAR10(tmp_path, train=False)) == 2
    with pytest.raises(DatasetNotFoundError, match="data_batch_1.bin"):
        CIFAR10(tmp_path, train=True)
    # files directly in root work too
    write_bins(tmp_path / "flat", TRAIN, n=1)
    assert len(CIFAR10(tmp_path / "flat")) == 5


def test_reads_the_archive_without_extracting(tmp_path):
    expected = write_archive(tmp_path / "cifar-10-binary.tar.gz", n=2)
    train, test = CIFAR10(tmp_path), CIFAR10(tmp_path, train=False)
    assert len(train) == 10 and len(test) == 2
    np.testing.assert_array_equal(train[2][0], expected["data_batch_2.bin"][1][0])
    assert test[1][1] == expected["test_batch.bin"][0][1]
    assert sorted(os.listdir(tmp_path)) == ["cifar-10-binary.tar.gz"]


def test_loader_batches_and_transforms(tmp_path):
    labels, images = write_bins(tmp_path / "cifar-10-batches-bin", TRAIN, n=2)
    ds = CIFAR10(tmp_path)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 32, 32, 3) and x.dtype == cr.uint8 and y.dtype == cr.int64
    np.testing.assert_array_equal(x.numpy(), images[:4])
    T = cr.transforms
    ds = CIFAR10(
        tmp_path,
        transform=T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]),
        target_transform=lambda y: y + 100,
    )
    image, label = ds[3]
    assert image.shape == (3, 32, 32) and image.dtype == cr.float32 and label == labels[3] + 100
    np.testing.assert_allclose(
        image.numpy(), (images[3].transpose(2, 0, 1) / 255.0 - 0.5) / 0.5, rtol=1e-5, atol=1e-6
    )
    x, y = next(iter(DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)))
    assert x.shape == (4, 3, 32, 32) and (y.numpy() >= 100).all()
    # the sample handed to transform is a copy: changing it leaves the dataset intact
    ds = CIFAR10(tmp_path, transform=lambda img: img.fill(0) or img)
    ds[0]
    assert CIFAR10(tmp_path)[0][0].any() and ds.data[0].any()


@pytest.mark.parametrize("cut", [1, 3072, 3074])
def test_truncated_file_is_an_error_naming_it(tmp_path, cut):
    folder = tmp_path / "cifar-10-batches-bin"
    write_bins(folder, TRAIN, n=2)
    path = folder / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(
        ValueError, match=r"data_batch_4.bin is truncated or corrupt: it is \d+ bytes"
    ):
        CIFAR10(tmp_path)


def test_empty_file_and_bad_labels(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    write_bins(folder, TEST, n=2)
    (folder / "test_batch.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="test_batch.bin is truncated or corrupt: it is 0 bytes"):
        CIFAR10(tmp_path, train=False)
    raw, _, _ = records(3, 0)
    raw = bytearray(raw)
    raw[3073] = 10
    (folder / "test_batch.bin").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="test_batch.bin is corrupt: record 1 has label 10"):
        CIFAR10(tmp_path, train=False)


def test_corrupt_or_incomplete_archive(tmp_path):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    write_archive(archive)
    archive.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot read the archive .*cifar-10-binary.tar.gz"):
        CIFAR10(tmp_path)
    write_archive(archive, names=TEST)
    with pytest.raises(ValueError, match="does not contain cifar-10-batches-bin/data_batch_1.bin"):
        CIFAR10(tmp_path)
    assert len(CIFAR10(tmp_path, train=False)) == 2


def test_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist.*download=True") as info:
        CIFAR10(tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, RuntimeError)
    with pytest.raises(DatasetNotFoundError, match="no cifar-10-binary.tar.gz"):
        CIFAR10(tmp_path)
    with pytest.raises(TypeError, match="root must be a folder path"):
        CIFAR10(3)


@contextlib.contextmanager
def serve(folder):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_download_from_a_local_mirror(tmp_path, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    served = tmp_path / "served"
    served.mkdir()
    expected = write_archive(served / "cifar-10-binary.tar.gz", n=2, seed=5)
    md5 = hashlib.md5((served / "cifar-10-binary.tar.gz").read_bytes()).hexdigest()
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5)
    root = tmp_path / "root"
    with serve(served) as url:
        monkeypatch.setattr(CIFAR10, "mirrors", ["http://127.0.0.1:9/", url])
        train = CIFAR10(root, download=True)
        assert len(train) == 10
        np.testing.assert_array_equal(train[0][0], expected["data_batch_1.bin"][1][0])
        assert sorted(os.listdir(root / "cifar-10-batches-bin")) == sorted([*TRAIN, *TEST])
        assert len(CIFAR10(root, train=False, download=True)) == 2
    # a wrong checksum is an error and leaves no file behind
    monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32)
    with serve(served) as url:
        monkeypatch.setattr(CIFAR10, "mirrors", [url])
        with pytest.raises(RuntimeError, match="could not download cifar-10-binary.tar.gz"):
            CIFAR10(tmp_path / "other", download=True)
    assert os.listdir(tmp_path / "other") == []


def test_data_and_targets_as_torchvision(tmp_path):
    labels, images = write_bins(tmp_path / "cifar-10-batches-bin", TRAIN, n=2)
    ds = CIFAR10(tmp_path)
    assert isinstance(ds.data, np.ndarray) and ds.data.shape == (10, 32, 32, 3)
    assert ds.targets == labels.tolist() and all(type(t) is int for t in ds.targets)
    keep = [k for k, t in enumerate(ds.targets) if t < 5]
    ds.data, ds.targets = ds.data[keep], [ds.targets[k] for k in keep]
    assert len(ds) == len(keep)
    x, y = next(iter(DataLoader(ds, batch_size=len(keep))))
    np.testing.assert_array_equal(x.numpy(), images[keep])
    assert (y.numpy() < 5).all()
