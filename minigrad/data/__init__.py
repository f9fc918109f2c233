"""Data sets and batching: the bundled digits, MNIST / Fashion-MNIST, a spiral, DataLoader,
TensorDataset."""
from .digits import load_digits
from .dataset import TensorDataset, collate
from .loader import DataLoader
from .mnist import DownloadError, load_mnist
from .spiral import make_spiral

__all__ = ["load_digits", "load_mnist", "make_spiral", "DataLoader", "DownloadError",
           "TensorDataset", "collate"]
