"""CIFAR-10 from its binary distribution (``cifar-10-binary.tar.gz``), read with NumPy.

No pickle: the "python version" of CIFAR-10 is a set of pickles, which can run code when
loaded, so chainrule reads the binary version instead. Each of its files is a run of
3,073-byte records: one label byte (0..9), then the 32x32 image as 1,024 red, 1,024
green and 1,024 blue bytes, each plane row by row. The training split is
``data_batch_1.bin`` .. ``data_batch_5.bin`` (10,000 records each), the test split
``test_batch.bin``, all in the folder ``cifar-10-batches-bin``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._atomic import atomic_open
from chainrule.datasets.mnist import DatasetNotFoundError, _download_file, _root_folder
from chainrule.utils.data.dataset import _ArrayClassification, _as_numpy, _check_index

__all__ = ["CIFAR10", "read_cifar_bin"]

_HEIGHT = _WIDTH = 32
_CHANNELS = 3
RECORD_SIZE = 1 + _CHANNELS * _HEIGHT * _WIDTH  # 3073
_MAX_FILE_SIZE = 100_000 * RECORD_SIZE  # 10x the real files: more is not CIFAR-10


def _parse_records(
    data: bytes, name: str, num_classes: int, owner: str
) -> tuple[np.ndarray, np.ndarray]:
    """Records -> images ``(N, 32, 32, 3)`` and labels ``(N,)``, uint8; errors name ``name``."""
    if len(data) == 0 or len(data) % RECORD_SIZE:
        whole = len(data) // RECORD_SIZE
        raise ValueError(
            f"{owner}: {name} is truncated or corrupt: it is {len(data)} bytes, not a positive "
            f"multiple of {RECORD_SIZE} (one label byte and 32x32x3 image bytes per record; "
            f"{whole} whole record(s) and {len(data) % RECORD_SIZE} extra bytes). Delete it "
            "and download the data set again"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_SIZE)
    labels = records[:, 0].copy()
    if labels.max() >= num_classes:
        row = int(np.argmax(labels >= num_classes))
        raise ValueError(
            f"{owner}: {name} is corrupt: record {row} has label {int(labels[row])}, expected "
            f"0..{num_classes - 1}"
        )
    images = records[:, 1:].reshape(-1, _CHANNELS, _HEIGHT, _WIDTH).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar_bin(
    path: str | os.PathLike[str], owner: str = "read_cifar_bin"
) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary file: images ``(N, 32, 32, 3)`` uint8 (H, W, C) and labels ``(N,)``.

    Raises:
        ValueError: the size is not a positive multiple of 3,073 bytes (truncated) or a label
            is above 9, naming the file.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size > _MAX_FILE_SIZE:
        raise ValueError(f"{owner}: {path} is {size} bytes, too large for a CIFAR-10 batch file")
    with open(path, "rb") as f:
        data = f.read()
    return _parse_records(data, path, 10, owner)


class CIFAR10(_ArrayClassification):
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32x32 in 10 classes.

    A sample is ``(image, label)``: ``image`` the ``(32, 32, 3)`` uint8 NumPy array (height,
    width, RGB: what torchvision's PIL image holds), ``label`` an int; ``transform``
    receives that array (``transforms.ToTensor()`` makes it a ``(3, 32, 32)`` float32
    Tensor in [0, 1]). A batch from the default collate is a uint8 ``(N, 32, 32, 3)`` Tensor.

    The files are looked up in ``root/cifar-10-batches-bin/``, then in ``root`` itself,
    then inside the archive ``root/cifar-10-binary.tar.gz`` (read without extracting). Each
    split reads only its own files.

    Args:
        root: the folder holding ``cifar-10-batches-bin`` or the archive.
        train: ``data_batch_1..5.bin`` (True) or ``test_batch.bin`` (False).
        download: if the files are not found, fetch the archive into ``root`` (checked by
            MD5) and extract its ``.bin`` files to ``root/cifar-10-batches-bin``.
        transform: applied to each image array.
        target_transform: applied to each label.

    Attributes:
        data: uint8 NumPy array ``(N, 32, 32, 3)`` and targets: list of ints, as in
            torchvision (reassigning them filters the dataset); classes, class_to_idx.

    Raises:
        DatasetNotFoundError: the files are missing and ``download`` is False.
        ValueError: a file is truncated or corrupt (named in the message).

    Examples:
        >>> train = cr.datasets.CIFAR10("data", train=True, download=True,
        ...                              transform=cr.transforms.ToTensor())
        >>> image, label = train[0]          # image: (3, 32, 32) float32
    """

    base_folder = "cifar-10-batches-bin"
    filename = "cifar-10-binary.tar.gz"
    tgz_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    mirrors: list[str] = ["https://www.cs.toronto.edu/~kriz/"]
    train_list = [f"data_batch_{k}.bin" for k in range(1, 6)]
    test_list = ["test_batch.bin"]
    classes = [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ]  # fmt: skip
    _raw_transform_input = True

    def __init__(
        self,
        root: str | os.PathLike[str],
        train: bool = True,
        download: bool = False,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root = _root_folder(type(self).__name__, root)
        self.train = bool(train)
        if download and self._find_folder() is None:
            self.download()
        images, labels = self._load()
        super().__init__(images, labels, train, transform, target_transform)
        self.data: np.ndarray = images  # type: ignore[assignment]
        self.targets: list[int] = labels.astype(np.int64).tolist()  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = _check_index(index, len(self.targets), type(self).__name__)
        image: Any = np.array(_as_numpy(self.data)[i])  # a copy the transform may change
        label: Any = int(self.targets[i])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    @property
    def _split_files(self) -> list[str]:
        return self.train_list if self.train else self.test_list

    def _find_folder(self) -> str | None:
        """The first folder holding all of this split's files."""
        for folder in (os.path.join(self.root, self.base_folder), self.root):
            if all(os.path.isfile(os.path.join(folder, name)) for name in self._split_files):
                return folder
        return None

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        owner = type(self).__name__
        folder = self._find_folder()
        if folder is not None:
            parts = [
                read_cifar_bin(os.path.join(folder, name), owner) for name in self._split_files
            ]
        else:
            archive = os.path.join(self.root, self.filename)
            if not os.path.isfile(archive):
                raise DatasetNotFoundError(self._missing_message())
            parts = self._read_archive(archive)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _read_archive(self, archive: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """This split's files, read from the ``.tar.gz`` without extracting anything."""
        owner = type(self).__name__
        wanted = {f"{self.base_folder}/{name}": name for name in self._split_files}
        found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    key = member.name.removeprefix("./")
                    if key not in wanted:
                        continue
                    where = f"{archive}:{key}"
                    if not member.isfile():
                        raise ValueError(f"{owner}: {where} is not a regular file in the archive")
                    if member.size > _MAX_FILE_SIZE:
                        raise ValueError(
                            f"{owner}: {where} is {member.size} bytes, too large for CIFAR-10"
                        )
                    stream = tar.extractfile(member)
                    assert stream is not None
                    data = stream.read(member.size)
                    found[key] = _parse_records(data, where, len(self.classes), owner)
                    if len(found) == len(wanted):
                        break
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise ValueError(
                f"{owner}: cannot read the archive {archive}: {error}. It is truncated or "
                "corrupt; delete it and download it again"
            ) from error
        missing = [key for key in wanted if key not in found]
        if missing:
            raise ValueError(
                f"{owner}: the archive {archive} does not contain {', '.join(missing)}"
            )
        return [found[key] for key in wanted]

    def _missing_message(self) -> str:
        name = type(self).__name__
        split = "training" if self.train else "test"
        folder = os.path.join(self.root, self.base_folder)
        where = (
            f"the folder {self.root!r} does not exist"
            if not os.path.isdir(self.root)
            else f"they are neither in {folder!r} nor in {self.root!r}, and there is no "
            f"{self.filename} in {self.root!r}"
        )
        return (
            f"{name}: the {split} files {', '.join(self._split_files)} were not found: {where}. "
            f"Pass download=True to fetch {self.filename} from {self.mirrors[0]} into "
            f"{self.root!r}, or download it yourself and put it there."
        )

    def download(self) -> None:
        """Fetch the archive (checked by MD5) and extract the ``.bin`` files of both splits.

        An archive already in ``root`` with the right MD5 is not fetched again. Only the
        expected regular files are extracted, by name, into ``root/cifar-10-batches-bin``.
        """
        owner = type(self).__name__
        os.makedirs(self.root, exist_ok=True)
        archive = os.path.join(self.root, self.filename)
        if not (os.path.isfile(archive) and _md5_of(archive) == self.tgz_md5):
            errors = []
            for mirror in self.mirrors:
                url = (mirror if mirror.endswith("/") else mirror + "/") + self.filename
                try:
                    _download_file(url, archive, self.tgz_md5)
                    break
                except (OSError, http.client.HTTPException, ValueError) as error:
                    errors.append(f"{url}: {error}")
            else:
                raise RuntimeError(
                    f"{owner}: could not download {self.filename} from any mirror:\n  "
                    + "\n  ".join(errors or ["(no mirrors configured)"])
                )
        folder = os.path.join(self.root, self.base_folder)
        os.makedirs(folder, exist_ok=True)
        train, self.train = self.train, True
        try:
            for split in (True, False):
                self.train = split
                for name, (images, labels) in zip(
                    self._split_files, self._read_archive(archive), strict=True
                ):
                    records = np.concatenate(
                        [labels[:, None], images.transpose(0, 3, 1, 2).reshape(len(labels), -1)],
                        axis=1,
                    )
                    with atomic_open(os.path.join(folder, name)) as f:
                        f.write(records.tobytes())
        finally:
            self.train = train

    def _features(self, rows: np.ndarray) -> np.ndarray:
        return rows  # batches stay uint8 (N, 32, 32, 3), as default_collate stacks the samples

    def extra_repr(self) -> str:
        return f"Root location: {self.root}\n{super().extra_repr()}"


def _md5_of(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
