"""Tests for cr.datasets.MNIST / FashionMNIST: IDX parsing, folder layouts and downloads.

The IDX files are tiny ones written here; downloads come from an HTTP server on 127.0.0.1.
Nothing touches the network.
"""

import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import MNIST, FashionMNIST
from chainrule.datasets.mnist import read_idx
from chainrule.utils.data import DataLoader, default_collate

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes holding ``array``."""
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write(path, content: bytes, gz: bool = False):
    path = str(path)
    if gz:
        path += ".gz"
        content = gzip.compress(content)
    with open(path, "wb") as f:
        f.write(content)
    return path


def fake_split(n: int, seed: int):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


def write_split(folder, train=True, n=7, seed=0, gz=False):
    os.makedirs(folder, exist_ok=True)
    images, labels = fake_split(n, seed)
    image_file, label_file = FILES[train]
    write(os.path.join(folder, image_file), idx_bytes(images), gz)
    write(os.path.join(folder, label_file), idx_bytes(labels), gz)
    return images, labels


# ---------------------------------------------------------------------------- reading


@pytest.mark.parametrize("gz", [False, True])
def test_reads_plain_and_gzipped_files(tmp_path, gz):
    images, labels = write_split(tmp_path, train=True, gz=gz)
    ds = MNIST(tmp_path)
    assert len(ds) == 7
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    assert ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
    image, label = ds[3]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_array_equal(image.numpy()[0], images[3].astype(np.float32) / np.float32(255))
    assert type(label) is int and label == labels[3]


def test_train_and_test_splits_and_torchvision_layout(tmp_path):
    train_images, _ = write_split(tmp_path / "MNIST" / "raw", train=True, n=5, seed=1)
    test_images, _ = write_split(tmp_path / "MNIST" / "raw", train=False, n=3, seed=2, gz=True)
    train, test = MNIST(str(tmp_path)), MNIST(tmp_path, train=False)
    assert (len(train), len(test)) == (5, 3)
    np.testing.assert_array_equal(train.data.numpy(), train_images)
    np.testing.assert_array_equal(test.data.numpy(), test_images)
    assert train.raw_folder == os.path.join(str(tmp_path), "MNIST", "raw")
    assert "Root location" in repr(test) and "Split: Test" in repr(test)


def test_fashion_mnist_uses_its_own_folder_and_classes(tmp_path):
    write_split(tmp_path / "FashionMNIST" / "raw", n=4)
    ds = FashionMNIST(tmp_path)
    assert len(ds) == 4 and ds.classes[9] == "Ankle boot"
    with pytest.raises(FileNotFoundError):
        MNIST(tmp_path)  # MNIST's files are not in FashionMNIST's folder


def test_loader_fast_path_equals_item_by_item(tmp_path):
    write_split(tmp_path, n=9)
    ds = MNIST(tmp_path)
    x, y = next(iter(DataLoader(ds, batch_size=4, shuffle=True, generator=cr.Generator(3))))
    idx = cr.Generator(3).np.permutation(9)[:4]
    sx, sy = default_collate([ds[int(i)] for i in idx])
    assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), sx.numpy())
    np.testing.assert_array_equal(y.numpy(), sy.numpy())


def test_read_idx_returns_writable_array(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write(tmp_path / "a", idx_bytes(array))
    out = read_idx(path, 0x00000803)
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 9  # a copy, not a view of the file's bytes


# ------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_names_file_and_byte_counts(tmp_path, gz):
    images, labels = fake_split(3, 0)
    content = idx_bytes(images)[:-100]
    path = write(tmp_path / FILES[True][0], content, gz)
    write(tmp_path / FILES[True][1], idx_bytes(labels), gz)
    expected = 16 + 3 * 28 * 28
    with pytest.raises(ValueError) as info:
        MNIST(tmp_path)
    message = str(info.value)
    assert path in message and "truncated" in message
    assert f"should be {expected} bytes" in message and f"it is {expected - 100} bytes" in message


def test_truncated_header(tmp_path):
    path = write(tmp_path / "short", (0x803).to_bytes(4, "big") + b"\x00\x00")
    with pytest.raises(ValueError, match=r"truncated: its IDX header needs 16 bytes, found 6"):
        read_idx(path, 0x00000803)


def test_trailing_bytes_are_an_error(tmp_path):
    path = write(tmp_path / "long", idx_bytes(np.zeros(4, np.uint8)) + b"xx")
    with pytest.raises(ValueError, match=r"has trailing bytes.*should be 12 bytes, but it is 14"):
        read_idx(path, 0x00000801)


def test_truncated_gzip_stream(tmp_path):
    images, labels = fake_split(3, 0)
    path = str(tmp_path / (FILES[True][0] + ".gz"))
    with open(path, "wb") as f:
        f.write(gzip.compress(idx_bytes(images))[:200])
    write(tmp_path / FILES[True][1], idx_bytes(labels), gz=True)
    with pytest.raises(ValueError, match="cannot decompress .*truncated or corrupt"):
        MNIST(tmp_path)


def test_wrong_magic_number(tmp_path):
    images, labels = fake_split(3, 0)
    # Swap the files' roles: a labels file where the images should be.
    write(tmp_path / FILES[True][0], idx_bytes(labels))
    write(tmp_path / FILES[True][1], idx_bytes(images))
    with pytest.raises(ValueError) as info:
        MNIST(tmp_path)
    message = str(info.value)
    assert FILES[True][0] in message
    assert "magic number 0x00000801, expected 0x00000803" in message


def test_gzipped_file_without_gz_suffix(tmp_path):
    path = write(tmp_path / "labels", gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    with pytest.raises(ValueError, match=r"magic number 0x1F8B08.*its name should end in \.gz"):
        read_idx(path, 0x00000801)


def test_image_and_label_counts_must_agree(tmp_path):
    images, labels = fake_split(4, 0)
    write(tmp_path / FILES[True][0], idx_bytes(images))
    write(tmp_path / FILES[True][1], idx_bytes(labels[:3]))
    with pytest.raises(ValueError, match="holds 4 images but .* holds 3 labels"):
        MNIST(tmp_path)


def test_labels_out_of_range(tmp_path):
    images, labels = fake_split(4, 0)
    labels[2] = 12
    write(tmp_path / FILES[True][0], idx_bytes(images))
    write(tmp_path / FILES[True][1], idx_bytes(labels))
    with pytest.raises(ValueError, match=r"label 12, expected labels in 0..9"):
        MNIST(tmp_path)


def test_missing_folder_says_how_to_get_the_files(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        MNIST(root)
    message = str(info.value)
    assert "train-images-idx3-ubyte[.gz]" in message and "train-labels-idx1-ubyte" in message
    assert f"the folder {str(root)!r} does not exist" in message
    assert "download=True" in message and MNIST.mirrors[0] in message
    # torchvision raises a RuntimeError here: code catching either works
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(RuntimeError, match="download=True"):
        FashionMNIST(root)


def test_missing_files_in_existing_folder(tmp_path):
    write_split(tmp_path, train=True)
    with pytest.raises(FileNotFoundError, match=r"test files t10k-images.*neither in"):
        MNIST(tmp_path, train=False)


def test_root_must_be_a_path():
    with pytest.raises(TypeError, match="root must be a folder path, got int"):
        MNIST(3)


# -------------------------------------------------------------------------- downloads


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/broken/<name>`` sends half of ``<name>`` and hangs up."""

    requests: list

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requests.append(self.path)
        if self.path.startswith("/endless/"):  # 200, no length, bytes forever
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(OSError):
                while True:
                    self.wfile.write(b"x" * 65536)
            return
        if self.path.startswith("/slow/"):  # one byte every 2 s, forever
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(2)
            return
        if self.path.startswith("/slowheaders/"):  # the status line, then a trickle
            with contextlib.suppress(OSError):
                self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                for _ in range(100):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(2)
            return
        if self.path.startswith("/wrong/"):  # the right length, the wrong content
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"\0" * 1000)
            return
        if self.path.startswith("/broken/"):
            with open(os.path.join(self.directory, self.path.removeprefix("/broken/")), "rb") as f:
                content = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@contextlib.contextmanager
def serve(folder):
    requests = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local mirror holding the four gzipped files; MNIST's resources point at them."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    served = tmp_path / "served"
    train = write_split(served, train=True, n=6, seed=10, gz=True)
    test = write_split(served, train=False, n=2, seed=11, gz=True)
    resources = []
    for name in (*FILES[True], *FILES[False]):
        with open(served / (name + ".gz"), "rb") as f:
            resources.append((name + ".gz", hashlib.md5(f.read()).hexdigest()))
    monkeypatch.setattr(MNIST, "resources", resources)
    with serve(served) as (url, requests):
        yield {"url": url, "requests": requests, "train": train, "test": test}


def leftovers(folder):
    """Temporary files of downloads (atomic_open's ``.<name>.tmp-*``)."""
    return [name for name in os.listdir(folder) if ".tmp-" in name or name.endswith(".part")]


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_tries_mirrors_in_order(tmp_path, monkeypatch, mirror):
    monkeypatch.setattr(MNIST, "mirrors", [mirror["url"] + "/missing/", mirror["url"]])
    root = tmp_path / "data"
    ds = MNIST(root, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), mirror["train"][0])
    np.testing.assert_array_equal(ds.targets.numpy(), mirror["train"][1])
    raw = root / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(name for name, _ in MNIST.resources)
    assert "/missing/train-images-idx3-ubyte.gz" in mirror["requests"]
    test = MNIST(root, train=False, download=True)
    np.testing.assert_array_equal(test.data.numpy(), mirror["test"][0])
    assert len(mirror["requests"]) == 8  # the second dataset found the files: no new requests


def test_download_skipped_when_files_exist(tmp_path, monkeypatch, mirror):
    monkeypatch.setattr(MNIST, "mirrors", [mirror["url"]])
    write_split(tmp_path, n=3)
    assert len(MNIST(tmp_path, download=True)) == 3
    assert mirror["requests"] == []


def test_checksum_mismatch_leaves_nothing_behind(tmp_path, monkeypatch, mirror):
    monkeypatch.setattr(MNIST, "mirrors", [mirror["url"]])
    bad = [(name, "0" * 32) for name, _ in MNIST.resources]
    monkeypatch.setattr(MNIST, "resources", bad)
    with pytest.raises(RuntimeError) as info:
        MNIST(tmp_path, download=True)
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert "checksum mismatch" in message and "expected " + "0" * 32 in message
    assert os.listdir(tmp_path / "MNIST" / "raw") == []


def test_all_mirrors_failing_is_a_clear_error(tmp_path, monkeypatch, mirror):
    dead = closed_port_url()
    monkeypatch.setattr(MNIST, "mirrors", [dead, mirror["url"] + "/missing"])
    with pytest.raises(RuntimeError) as info:
        MNIST(tmp_path, download=True)
    message = str(info.value)
    assert dead + "train-images-idx3-ubyte.gz" in message
    assert mirror["url"] + "/missing/train-images-idx3-ubyte.gz: HTTP Error 404" in message
    assert leftovers(tmp_path / "MNIST" / "raw") == []


def test_interrupted_transfer_deletes_partial_file(tmp_path, monkeypatch, mirror):
    monkeypatch.setattr(MNIST, "mirrors", [mirror["url"] + "/broken/"])
    with pytest.raises(
        RuntimeError,
        match=r"could not download train-images(.|\n)*"
        r"incomplete transfer: received \d+ of \d+ bytes",
    ):
        MNIST(tmp_path, download=True)
    assert os.listdir(tmp_path / "MNIST" / "raw") == []
    # A later good mirror completes the download.
    monkeypatch.setattr(MNIST, "mirrors", [mirror["url"] + "/broken/", mirror["url"]])
    assert len(MNIST(tmp_path, download=True)) == 6
    assert leftovers(tmp_path / "MNIST" / "raw") == []


def test_published_checksums_are_the_known_ones():
    # torchvision's and the data sets' published MD5s of the gzipped files.
    assert dict(MNIST.resources)["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert dict(FashionMNIST.resources)["t10k-labels-idx1-ubyte.gz"] == (
        "bb300cfdad3c16e7a12a480ee83cd310"
    )
    assert FashionMNIST.mirrors != MNIST.mirrors


# -------------------------------------------------------- a server that lies (issue 11.4)


@pytest.fixture
def strict(monkeypatch):
    """Small limits, as a test can afford to wait for them."""
    monkeypatch.setattr(MNIST, "download_max_bytes", 200_000)
    monkeypatch.setattr(MNIST, "download_deadline", 3.0)
    monkeypatch.setattr(MNIST, "download_timeout", 10.0)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("/endless/", "more than the limit of 200000 bytes"),
        ("/slow/", "3 s limit"),
        ("/slowheaders/", "3 s limit"),
        ("/wrong/", "checksum mismatch"),
        ("/nothing-here/", "HTTP Error 404"),
    ],
)
def test_a_lying_mirror_is_given_up_for_the_next(
    tmp_path, monkeypatch, mirror, strict, prefix, message
):
    bad = mirror["url"] + prefix
    monkeypatch.setattr(MNIST, "mirrors", [bad])
    began = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        MNIST(tmp_path, download=True)
    assert time.monotonic() - began < 60  # bounded (the limit is 3 s), not a timing test
    assert message in str(info.value)
    raw = tmp_path / "MNIST" / "raw"
    assert os.listdir(raw) == []  # nothing half-written left
    monkeypatch.setattr(MNIST, "mirrors", [bad, mirror["url"]])
    ds = MNIST(tmp_path, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), mirror["train"][0])
    assert sorted(os.listdir(raw)) == sorted(name for name, _ in MNIST.resources)


def test_a_corrupt_download_is_repaired(tmp_path, monkeypatch, mirror):
    monkeypatch.setattr(MNIST, "mirrors", [mirror["url"]])
    MNIST(tmp_path, download=True)
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-10] + b"0123456789")  # damaged on disk
    before = len(mirror["requests"])
    ds = MNIST(tmp_path, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), mirror["train"][0])
    assert mirror["requests"][before:] == ["/train-images-idx3-ubyte.gz"]
    MNIST(tmp_path, download=True)
    assert len(mirror["requests"]) == before + 1  # good files are not fetched again


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_downloaded_files_get_the_umasks_permissions(tmp_path, monkeypatch, mirror):
    monkeypatch.setattr(MNIST, "mirrors", [mirror["url"]])
    old = os.umask(0o022)
    try:
        MNIST(tmp_path, download=True)
    finally:
        os.umask(old)
    for name in os.listdir(tmp_path / "MNIST" / "raw"):
        assert stat.S_IMODE(os.stat(tmp_path / "MNIST" / "raw" / name).st_mode) == 0o644


@pytest.mark.skipif(os.name != "posix", reason="kill -9 and SIGTERM are POSIX")
@pytest.mark.parametrize("how", ["kill", "term"])
def test_a_killed_download_leaves_nothing_behind(tmp_path, mirror, how):
    code = (
        "import sys, chainrule as cr\n"
        "from chainrule.datasets import MNIST\n"
        "MNIST.mirrors = [sys.argv[2]]\n"
        "MNIST.resources = [('train-images-idx3-ubyte.gz', '0' * 32)]\n"
        "MNIST(sys.argv[1], download=True)\n"
    )
    src = os.path.dirname(os.path.dirname(cr.__file__))
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), mirror["url"] + "/slow/"],
        env={**os.environ, "PYTHONPATH": src},
    )
    raw = tmp_path / "MNIST" / "raw"
    for _ in range(600):  # until the download has started writing
        if raw.is_dir() and os.listdir(raw):
            break
        time.sleep(0.05)
    assert os.listdir(raw), "the download did not start"
    child.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
    child.wait(timeout=60)
    if how == "term":
        assert os.listdir(raw) == []  # removed by the SIGTERM handler
    else:
        assert len(os.listdir(raw)) == 1  # kill -9: nothing can react...
        with pytest.raises(RuntimeError):  # ... until the next download of that file
            MNIST.download.__get__(_Bare(tmp_path))()
        assert os.listdir(raw) == []


class _Bare(MNIST):
    """An MNIST whose ``download`` can run without the files: one file, a dead mirror."""

    mirrors = ["http://127.0.0.1:1/"]
    resources = [("train-images-idx3-ubyte.gz", "0" * 32)]

    def __init__(self, root):  # noqa: D107 - no loading
        self.root = str(root)
        self.train = True

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, "MNIST", "raw")


def test_gzip_bomb_is_rejected_from_the_declared_size(tmp_path):
    # a header declaring 2**32-1 x 28 x 28 bytes, then zeros that compress 1000:1
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = (0x0803).to_bytes(4, "big") + (2**32 - 1).to_bytes(4, "big")
    header += (28).to_bytes(4, "big") * 2
    with gzip.open(path, "wb") as f:
        f.write(header)
        zeros = b"\0" * (1 << 20)
        for _ in range(8):
            f.write(zeros)
    with pytest.raises(ValueError, match=r"more than the limit of \d+ bytes"):
        read_idx(path, 0x0803)
    # a header declaring little, then much more data: stops one byte past the declared size
    with gzip.open(path, "wb") as f:
        f.write((0x0801).to_bytes(4, "big") + (10).to_bytes(4, "big"))
        for _ in range(64):
            f.write(zeros)
    with pytest.raises(ValueError, match="has trailing bytes"):
        read_idx(path, 0x0801)


def test_an_overflowing_idx_header_is_a_clear_error(tmp_path):
    path = tmp_path / "images"
    dims = [2**32 - 1] * 3
    path.write_bytes((0x0803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims))
    with pytest.raises(ValueError) as info:
        read_idx(path, 0x0803)
    message = str(info.value)
    assert str((2**32 - 1) ** 3) in message and "limit" in message
