"""Make ``minigrad/data/digits.npz``, the bundled 8x8 handwritten digits.

The data is the UCI "Optical Recognition of Handwritten Digits" set (E. Alpaydin, C. Kaynak,
1998; CC BY 4.0): the 1,797 images of its test part, which scikit-learn also ships. This one-off
script reads scikit-learn's copy (``pip install scikit-learn``; it is not a dependency of
minigrad) and stores it small and pickle-free:

- ``images``: uint8, shape (1797, 8, 8), counts of "on" pixels in 4x4 blocks, 0..16;
- ``labels``: uint8, shape (1797,), the digit 0..9.

Run from the repository root: ``python scripts/make_digits.py``.
"""
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits

OUT = os.path.join(os.path.dirname(__file__), os.pardir, "minigrad", "data", "digits.npz")


def main() -> None:
    digits = load_digits()
    images = digits.images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    assert np.array_equal(images, digits.images) and np.array_equal(labels, digits.target)
    folder = os.path.dirname(os.path.abspath(OUT))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=folder)
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, images=images, labels=labels)
    os.replace(tmp, OUT)
    print(f"wrote {os.path.normpath(OUT)}: {len(labels)} images, "
          f"{os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
