"""MNIST and Fashion-MNIST: the standard IDX files, read with NumPy, downloaded on request.

The four files of each data set (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped or not) are looked up in
``root`` and then in ``root/<ClassName>/raw`` (torchvision's layout, which is also where
``download=True`` puts them).

An IDX file is a big-endian header, the magic number ``0x000008ND`` (``08``: unsigned
bytes, ``ND``: number of dimensions) and one 4-byte size per dimension, followed by the
bytes of the array. Images are ``0x00000803`` (count, rows, columns), labels
``0x00000801`` (count).

Reading never trusts the header blindly: the size it declares is computed exactly (no
integer wrap-around), checked against a limit, and a gzipped file is decompressed only up
to that size (a gzip bomb is rejected after at most one byte more than declared).

Downloading never trusts the server: each file is bounded in size
(``download_max_bytes``) and in total time (``download_deadline`` seconds, whatever the
rate the server trickles bytes at), checked against its MD5, and written through
:func:`chainrule._atomic.atomic_open` (a killed download leaves no partial file behind for
long, and the file gets the normal permissions of the umask). Any failure moves on to the
next mirror. Files already downloaded are checked against their MD5 again on every
``download=True``, and a corrupt one is fetched again.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import math
import os
import socket
import ssl
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._atomic import atomic_open
from chainrule.utils.data.dataset import _ArrayClassification

__all__ = ["MNIST", "FashionMNIST", "DatasetNotFoundError", "read_idx"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_DOWNLOAD_TIMEOUT = 60.0  # seconds without data before a mirror is given up
_DOWNLOAD_DEADLINE = 600.0  # seconds for one file from one mirror, in total
_DOWNLOAD_MAX_BYTES = 64 << 20  # the largest file (Fashion-MNIST train images) is 26 MB
_MAX_REDIRECTS = 5
_CHUNK = 1 << 20
#: the largest array ``read_idx`` accepts by default (MNIST's training images: 47 MB)
IDX_MAX_BYTES = 1 << 31


class DatasetNotFoundError(FileNotFoundError, RuntimeError):
    """The data set's files are not in ``root`` (and ``download`` is False).

    A ``FileNotFoundError``, and a ``RuntimeError`` as torchvision raises in this case, so
    that code written for either keeps working.
    """


def _open_idx(path: str) -> Any:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_idx(
    path: str | os.PathLike[str],
    magic: int,
    owner: str = "read_idx",
    max_bytes: int = IDX_MAX_BYTES,
) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzipped if its name ends in ``.gz``).

    Args:
        path: the file.
        magic: the magic number the file must start with, e.g. ``0x00000803`` for images
            (its last byte is the number of dimensions).
        owner: the name errors start with.
        max_bytes: the largest array accepted: a header declaring more is refused before
            anything is decompressed (default 2 GiB).

    Returns:
        A writable uint8 array of the shape the header gives.

    Raises:
        ValueError: wrong magic number, a declared size over ``max_bytes``, or a size that
            does not match the header (a truncated file, trailing bytes), naming the file
            and the numbers.
    """
    path = os.fspath(path)
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    gz_note = " (decompressed)" if path.endswith(".gz") else ""
    try:
        with _open_idx(path) as f:
            head = f.read(header_size)
            if len(head) >= 4 and int.from_bytes(head[:4], "big") != magic:
                found = int.from_bytes(head[:4], "big")
                hint = ""
                if head[:2] == b"\x1f\x8b":
                    hint = " (it looks gzip-compressed: its name should end in .gz)"
                raise ValueError(
                    f"{owner}: {path} has magic number 0x{found:08X}, expected 0x{magic:08X} "
                    f"(an IDX file of unsigned bytes with {ndim} dimension(s)); it is not the "
                    f"expected IDX file{hint}"
                )
            if len(head) < header_size:
                raise ValueError(
                    f"{owner}: {path} is truncated: its IDX header needs {header_size} bytes, "
                    f"found {len(head)} bytes{gz_note}"
                )
            shape = tuple(
                int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
            )
            size = math.prod(shape)  # Python ints: exact, however large the sizes
            if size > max_bytes:
                raise ValueError(
                    f"{owner}: {path}: the header gives shape {shape}, i.e. {size} bytes, more "
                    f"than the limit of {max_bytes} bytes (pass max_bytes= to read_idx to "
                    "allow it); the file is corrupt or not an IDX file"
                )
            data = f.read(size + 1)  # at most one byte past the declared size
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(
            f"{owner}: cannot decompress {path}: {error}. The file is truncated or corrupt; "
            "delete it and download it again"
        ) from error
    expected = header_size + size
    if len(data) != size:
        if len(data) < size:
            found_size = f"{header_size + len(data)} bytes"
            problem = "is truncated"
        else:
            found_size = f"longer (at least {expected + 1} bytes)"
            if not path.endswith(".gz"):
                found_size = f"{os.path.getsize(path)} bytes"
            problem = "has trailing bytes"
        raise ValueError(
            f"{owner}: {path} {problem}: the header gives shape {shape}, so the file should "
            f"be {expected} bytes, but it is {found_size}{gz_note}"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape).copy()


class DownloadError(OSError):
    """One mirror failed to deliver one file (reported with the others in a RuntimeError)."""


def _md5_of(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _root_folder(owner: str, root: Any) -> str:
    """A dataset's ``root`` argument as a folder path (``~`` expanded), or a TypeError."""
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"{owner}: root must be a folder path, got {type(root).__name__}")
    return os.path.expanduser(os.fspath(root))


def _download_file(
    url: str,
    destination: str,
    md5: str,
    *,
    max_bytes: int = _DOWNLOAD_MAX_BYTES,
    deadline: float = _DOWNLOAD_DEADLINE,
    timeout: float = _DOWNLOAD_TIMEOUT,
) -> None:
    """Fetch ``url`` to ``destination`` atomically, checking its size, time and MD5.

    The bytes go through :func:`atomic_open`, so ``destination`` is replaced only by a
    complete, verified file. ``deadline`` bounds the whole transfer (connection, headers
    and body): a watchdog shuts the socket down when it passes, so that a server sending
    one byte now and then cannot hold the download forever.
    """
    end = time.monotonic() + deadline
    expired = threading.Event()
    current: dict[str, Any] = {}

    def watchdog() -> None:
        expired.set()
        connection = current.get("connection")
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(deadline, watchdog)
    timer.daemon = True
    timer.start()
    try:
        with atomic_open(destination, "wb") as out:
            _fetch(url, out, md5, max_bytes, end, timeout, current, expired, deadline)
    except (OSError, http.client.HTTPException, ValueError) as error:
        if expired.is_set():
            raise DownloadError(f"gave up after the {deadline:g} s limit per file") from None
        raise error
    finally:
        timer.cancel()
        connection = current.get("connection")
        if connection is not None:
            connection.close()


def _fetch(
    url: str,
    out: Any,
    md5: str,
    max_bytes: int,
    end: float,
    timeout: float,
    current: dict[str, Any],
    expired: threading.Event,
    deadline: float,
) -> None:
    for _ in range(_MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadError(f"cannot download from {url!r}: not an http(s) URL")
        wait = max(0.1, min(timeout, end - time.monotonic()))
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=wait, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=wait)
        current["connection"] = connection
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection.request("GET", target, headers={"User-Agent": "chainrule"})
        response = connection.getresponse()
        if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
            url = urllib.parse.urljoin(url, response.getheader("Location"))
            connection.close()
            continue
        if response.status != 200:
            raise DownloadError(f"HTTP Error {response.status}: {response.reason}")
        announced = response.getheader("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) > max_bytes:
            raise DownloadError(
                f"the server announces {announced} bytes, more than the limit of {max_bytes}"
            )
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        while True:
            if expired.is_set() or time.monotonic() > end:
                raise DownloadError(f"gave up after the {deadline:g} s limit per file")
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise DownloadError(
                    f"the server sent more than the limit of {max_bytes} bytes for this file"
                )
            digest.update(chunk)
            out.write(chunk)
        if expired.is_set():
            raise DownloadError(f"gave up after the {deadline:g} s limit per file")
        if announced is not None and announced.isdigit() and received < int(announced):
            raise DownloadError(f"incomplete transfer: received {received} of {announced} bytes")
        if digest.hexdigest() != md5:
            raise DownloadError(f"checksum mismatch: MD5 {digest.hexdigest()}, expected {md5}")
        return
    raise DownloadError(f"more than {_MAX_REDIRECTS} redirects")


class MNIST(_ArrayClassification):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28.

    A sample is ``(image, label)``: ``image`` a float32 Tensor ``(1, 28, 28)`` in [0, 1]
    (grey levels divided by 255, as torchvision's ``ToTensor``), ``label`` an int.

    Args:
        root: the folder holding the IDX files (or ``root/MNIST/raw`` holding them).
        train: the training files (``train-*``) or the test files (``t10k-*``).
        transform: applied to the raw ``(28, 28)`` uint8 image array (what torchvision's
            PIL image holds; ``transforms.ToTensor()`` turns it into the default sample).
        target_transform: applied to each label.
        download: if the files are not found, fetch all four from ``mirrors`` into
            ``root/MNIST/raw``, checking each against its MD5 in ``resources``.

    Attributes:
        data: uint8 Tensor ``(N, 28, 28)``; targets: int64 Tensor ``(N,)``; classes.

    Raises:
        DatasetNotFoundError: (a ``FileNotFoundError`` and a ``RuntimeError``, as
            torchvision's) the files are missing and ``download`` is False.
        ValueError: a file is truncated, or has the wrong magic number.
        RuntimeError: ``download=True`` and no mirror delivered a file with the right MD5.

    Examples:
        >>> train = cr.datasets.MNIST("data", train=True, download=True)
        >>> image, label = train[0]          # image: (1, 28, 28) float32
    """

    #: limits of one file's download from one mirror (bytes, seconds in total, seconds of
    #: silence); a mirror exceeding one is given up for the next
    download_max_bytes: int = _DOWNLOAD_MAX_BYTES
    download_deadline: float = _DOWNLOAD_DEADLINE
    download_timeout: float = _DOWNLOAD_TIMEOUT

    mirrors: list[str] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources: list[tuple[str, str]] = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    _raw_transform_input = True
    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike[str],
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
    ) -> None:
        self.root = _root_folder(type(self).__name__, root)
        self.train = bool(train)
        if download:
            found = self._find_split()
            if found is None or os.path.dirname(found[0]) == self.raw_folder:
                self.download()  # fetches what is missing, repairs what is corrupt
        found = self._find_split()
        if found is None:
            raise DatasetNotFoundError(self._missing_message())
        images = read_idx(found[0], IMAGES_MAGIC, type(self).__name__)
        labels = read_idx(found[1], LABELS_MAGIC, type(self).__name__)
        self._check_consistent(found, images, labels)
        super().__init__(images, labels, train, transform, target_transform)

    @property
    def raw_folder(self) -> str:
        """``root/<ClassName>/raw``: torchvision's folder, where downloads go."""
        return os.path.join(self.root, type(self).__name__, "raw")

    def _split_files(self) -> tuple[str, str]:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _find_split(self) -> tuple[str, str] | None:
        """Paths of this split's images and labels, from the first folder holding both."""
        for folder in (self.root, self.raw_folder):
            paths = []
            for name in self._split_files():
                plain, gz = os.path.join(folder, name), os.path.join(folder, name + ".gz")
                paths.append(plain if os.path.isfile(plain) else gz)
            if all(os.path.isfile(p) for p in paths):
                return paths[0], paths[1]
        return None

    def _missing_message(self) -> str:
        name = type(self).__name__
        images, labels = self._split_files()
        where = (
            f"the folder {self.root!r} does not exist"
            if not os.path.isdir(self.root)
            else f"they are neither in {self.root!r} nor in {self.raw_folder!r}"
        )
        return (
            f"{name}: the {'training' if self.train else 'test'} files {images}[.gz] and "
            f"{labels}[.gz] were not found: {where}. Pass download=True to fetch them into "
            f"{self.raw_folder!r}, or download {', '.join(f for f, _ in self.resources)} "
            f"yourself from {self.mirrors[0]} and put them in one of those folders."
        )

    def _check_consistent(
        self, paths: tuple[str, str], images: np.ndarray, labels: np.ndarray
    ) -> None:
        name = type(self).__name__
        if len(images) != len(labels):
            raise ValueError(
                f"{name}: {paths[0]} holds {len(images)} images but {paths[1]} holds "
                f"{len(labels)} labels"
            )
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(
                f"{name}: {paths[1]} has label {int(labels.max())}, expected labels in "
                f"0..{len(self.classes) - 1}"
            )

    def download(self) -> None:
        """Fetch every file of ``resources`` missing from ``raw_folder`` or corrupt there.

        A file already there is checked against its MD5 and fetched again if it does not
        match (a decompressed file, without its ``.gz``, is kept as it is). Mirrors are
        tried in order; any failure of one (an error, a wrong checksum, more than
        ``download_max_bytes``, more than ``download_deadline`` seconds) moves on to the
        next. Each file is written to a temporary file in the same folder and moved into
        place only once its checksum matches.
        """
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            destination = os.path.join(self.raw_folder, filename)
            plain = destination.removesuffix(".gz")
            if os.path.isfile(destination):
                if _md5_of(destination) == md5:
                    continue
            elif os.path.isfile(plain):
                continue
            errors = []
            for mirror in self.mirrors:
                url = mirror if mirror.endswith("/") else mirror + "/"
                url += filename
                try:
                    _download_file(
                        url, destination, md5, max_bytes=self.download_max_bytes,
                        deadline=self.download_deadline, timeout=self.download_timeout,
                    )
                    break
                except Exception as error:  # any failure: on to the next mirror
                    errors.append(f"{url}: {error}")
            else:
                raise RuntimeError(
                    f"{type(self).__name__}: could not download {filename} from any mirror:\n  "
                    + "\n  ".join(errors or ["(no mirrors configured)"])
                )

    def extra_repr(self) -> str:
        return f"Root location: {self.root}\n{super().extra_repr()}"

    def _features(self, rows: np.ndarray) -> np.ndarray:
        # (..., 28, 28) uint8 -> (..., 1, 28, 28) float32 in [0, 1]
        return (rows.astype(np.float32) / np.float32(255.0))[..., None, :, :]


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 images of 10 kinds of clothing, in MNIST's format.

    Same arguments, files and samples as :class:`MNIST`; torchvision's folder is
    ``root/FashionMNIST/raw``.
    """

    mirrors: list[str] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources: list[tuple[str, str]] = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip
