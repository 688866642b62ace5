"""MNIST-1D (Greydanus 2020), generated offline with the `mnist1d` package and cached.

The standard set is `make_dataset(get_dataset_args())`: 5000 sequences of length 40, 10
classes, split 4000 train / 1000 test, generation seed 42. We never call
`mnist1d.get_dataset`, which downloads.

Training-set sizes. The test set is always the standard generation's 1000 sequences, so
runs with different training sizes are scored on the same examples. The training pool is
the standard 4000 training sequences, followed (only when more are needed) by an extra
generation with `num_samples` a multiple of 5000 and generation seed `seed + EXTRA_SEED`
(a different seed, because mnist1d generates class by class: two generations with one seed
share their first sequences, which would leak test examples into training). A run trains on
the first `train_size` sequences of the pool; the validation split is the next `val_size`.

Each generation is cached as an .npz file named by a hash of its mnist1d arguments, in
$FASTDROP_CACHE, or ~/.cache/fastdrop, under mnist1d/. Files are written atomically, so
concurrent workers may generate the same one. A cache file that cannot be read is named in
a CacheWarning, then generated again and replaced.

mnist1d is imported inside the functions that call it: it pulls in matplotlib and scipy
(about 1.7 s), which a run that finds its data in the cache never needs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STANDARD_SAMPLES = 5000  # mnist1d default num_samples: 4000 train + 1000 test
STANDARD_TRAIN = 4000  # training sequences of the standard generation
EXTRA_SEED = 100_000  # generation seed offset of the extra training sequences
EXTRA_CHUNK = 5000  # extra generations hold a multiple of this many sequences
NUM_CLASSES = 10
SEQ_LEN = 40

# mnist1d's get_dataset_args keys that change the data (the download url does not).
_GEN_KEYS = (
    "num_samples",
    "train_split",
    "template_len",
    "padding",
    "scale_coeff",
    "max_translation",
    "corr_noise_scale",
    "iid_noise_scale",
    "shear_scale",
    "shuffle_seq",
    "final_seq_length",
    "seed",
)


class CacheWarning(UserWarning):
    """A damaged MNIST-1D cache file, about to be generated again."""


def cache_dir(path=None) -> Path:
    """The cache folder: `path`, else $FASTDROP_CACHE, else ~/.cache/fastdrop."""
    if path is None:
        path = os.environ.get("FASTDROP_CACHE") or Path.home() / ".cache" / "fastdrop"
    return Path(path)


def generation_args(**overrides) -> dict:
    """mnist1d's default dataset arguments with overrides, as a plain dict."""
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    unknown = set(overrides) - set(_GEN_KEYS)
    if unknown:
        raise ValueError(
            f"unknown mnist1d argument(s) {sorted(unknown)}; valid: {', '.join(_GEN_KEYS)}"
        )
    args.update(overrides)
    return {k: args[k] for k in _GEN_KEYS}


def _key(args: dict) -> str:
    text = json.dumps(args, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _make(args: dict) -> dict[str, np.ndarray]:
    """Run mnist1d's generator, leaving the global random states as they were."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    full = dict(args)
    full["url"] = None  # never used: make_dataset does not download
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(ObjectView(full))
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {
        "x": np.asarray(d["x"], dtype=np.float64),
        "y": np.asarray(d["y"], dtype=np.int64),
        "x_test": np.asarray(d["x_test"], dtype=np.float64),
        "y_test": np.asarray(d["y_test"], dtype=np.int64),
    }


def generate(args: dict, cache=None) -> dict[str, np.ndarray]:
    """One mnist1d generation (arrays x, y, x_test, y_test), from the cache when there."""
    folder = cache_dir(cache) / "mnist1d"
    path = folder / f"mnist1d-{_key(args)}.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in ("x", "y", "x_test", "y_test")}
        except Exception as exc:  # truncated, not an npz, a missing array: say so, remake it
            warnings.warn(f"{path}: damaged MNIST-1D cache file ({type(exc).__name__}: "
                          f"{exc}); generating it again", CacheWarning, stacklevel=2)
    arrays = _make(args)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp.npz"
    try:
        np.savez(tmp, args=np.array(json.dumps(args, sort_keys=True)), **arrays)
        os.replace(tmp, path)
    finally:  # a failed write leaves no temporary file behind
        tmp.unlink(missing_ok=True)
    return arrays


@dataclass
class Dataset:
    """Arrays ready to train on: x (N, 40) in the training dtype, y (N,) int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: dict = field(default_factory=dict)  # how it was made (JSON-serialisable)


def load_mnist1d(
    train_size: int = STANDARD_TRAIN,
    val_size: int = 0,
    *,
    seed: int = 42,
    cache=None,
    dtype="float32",
) -> Dataset:
    """MNIST-1D with `train_size` training and `val_size` validation sequences (see the
    module docstring for where they come from) and the standard 1000 test sequences."""
    if train_size < 1 or val_size < 0:
        raise ValueError(f"train_size must be >= 1 and val_size >= 0, got {train_size}, "
                         f"{val_size}")
    standard = generate(generation_args(seed=seed), cache)
    pool_x, pool_y = [standard["x"]], [standard["y"]]
    need = train_size + val_size
    sources = [{"seed": seed, "num_samples": STANDARD_SAMPLES, "used": min(need, STANDARD_TRAIN)}]
    if need > STANDARD_TRAIN:
        extra_n = EXTRA_CHUNK * math.ceil((need - STANDARD_TRAIN) / EXTRA_CHUNK)
        extra_args = generation_args(seed=seed + EXTRA_SEED, num_samples=extra_n, train_split=1.0)
        extra = generate(extra_args, cache)
        pool_x.append(extra["x"])
        pool_y.append(extra["y"])
        sources.append(
            {"seed": seed + EXTRA_SEED, "num_samples": extra_n, "used": need - STANDARD_TRAIN}
        )
    x = np.concatenate(pool_x)
    y = np.concatenate(pool_y)
    dt = np.dtype(dtype)
    info = {
        "name": "mnist1d",
        "train_size": int(train_size),
        "val_size": int(val_size),
        "test_size": int(len(standard["y_test"])),
        "seq_len": int(x.shape[1]),
        "classes": NUM_CLASSES,
        "seed": int(seed),
        "sources": sources,
    }
    return Dataset(
        x_train=np.ascontiguousarray(x[:train_size], dtype=dt),
        y_train=np.ascontiguousarray(y[:train_size]),
        x_val=np.ascontiguousarray(x[train_size:need], dtype=dt),
        y_val=np.ascontiguousarray(y[train_size:need]),
        x_test=np.ascontiguousarray(standard["x_test"], dtype=dt),
        y_test=np.ascontiguousarray(standard["y_test"]),
        info=info,
    )
