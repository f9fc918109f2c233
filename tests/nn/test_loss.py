"""SoftmaxCrossEntropy / F.softmax_cross_entropy: forward against NumPy, gradients against
central differences and against log_softmax composed from primitives, extreme logits, bad
input."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.testing import strategies as mst

from .helpers import leaf

REDUCTIONS = ["mean", "sum", "none"]


def reference_losses(z, t_probs):
    """−Σ t log softmax(z) per row, written directly in NumPy."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(t_probs * log_p).sum(axis=1)


def reduce(losses, reduction):
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


@st.composite
def logits_and_labels(draw):
    n = draw(st.integers(1, 5))
    c = draw(st.integers(2, 5))     # one class: the loss is 0 whatever the logits
    z = draw(mst.arrays(shape=(n, c), bound=5.0))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return z, labels


@st.composite
def logits_and_probs(draw):
    z, labels = draw(logits_and_labels())
    raw = draw(mst.arrays(shape=z.shape, positive=True))
    return z, raw / raw.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_labels())
def test_labels_forward_and_gradient(reduction, case):
    z, labels = case
    one_hot = np.eye(z.shape[1])[labels]
    loss = nn.SoftmaxCrossEntropy(reduction)(leaf(z), labels)
    np.testing.assert_allclose(loss.data, reduce(reference_losses(z, one_hot), reduction),
                               rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda t: F.softmax_cross_entropy(t, labels, reduction), [leaf(z)],
                        seed=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_probs())
def test_probabilities_forward_and_gradients(reduction, case):
    z, probs = case
    loss = F.softmax_cross_entropy(leaf(z), probs, reduction)
    np.testing.assert_allclose(loss.data, reduce(reference_losses(z, probs), reduction),
                               rtol=1e-12, atol=1e-12)
    # the gradient with respect to the target probabilities too
    assert mg.gradcheck(lambda a, b: F.softmax_cross_entropy(a, b, reduction),
                        [leaf(z), leaf(probs)], seed=1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_labels(), data=st.data())
def test_targets_whose_rows_do_not_sum_to_one_get_the_true_gradient(reduction, case, data):
    z, _ = case                  # multi-label rows, or soft labels scaled by a slip
    assume(z.shape[1] > 1)       # one class: the loss is constant, every gradient 0
    targets = data.draw(mst.arrays(shape=z.shape, positive=True)) * \
        data.draw(st.sampled_from([0.25, 1.0, 3.0]))
    assume(np.ptp(targets, axis=1).min() > 0.05)   # not a stationary point (t ∝ softmax(z))
    assert mg.gradcheck(lambda t: F.softmax_cross_entropy(t, targets, reduction), [leaf(z)],
                        seed=2)
    fused_z, plain_z = leaf(z), leaf(z)
    upstream = np.random.default_rng(0).standard_normal(z.shape[0]) if reduction == "none" \
        else 1.7
    F.softmax_cross_entropy(fused_z, targets, reduction).backward(upstream)
    plain = reduce(-(mg.tensor(targets) * F.log_softmax(plain_z, axis=1)).sum(axis=1), reduction)
    plain.backward(upstream)
    np.testing.assert_allclose(fused_z.grad.data, plain_z.grad.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_labels())
def test_fused_equals_composite(reduction, case):
    z, labels = case
    n, c = z.shape
    fused_z, plain_z = leaf(z), leaf(z)
    fused = F.softmax_cross_entropy(fused_z, labels, reduction)
    one_hot = mg.tensor(np.eye(c)[labels])
    plain = reduce(-(one_hot * F.log_softmax(plain_z, axis=1)).sum(axis=1), reduction)
    if reduction == "mean":
        plain = -(one_hot * F.log_softmax(plain_z, axis=1)).sum() / n
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(fused.shape)
    fused.backward(g)
    plain.backward(g)
    np.testing.assert_allclose(fused_z.grad.data, plain_z.grad.data, rtol=1e-10, atol=1e-12)


def test_upstream_gradient_is_honoured():
    z = leaf(np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]]))
    labels = np.array([2, 0])
    (F.softmax_cross_entropy(z, labels) * 3.0).backward()
    p = np.exp(z.data) / np.exp(z.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(z.grad.data, 3.0 * (p - np.eye(3)[labels]) / 2, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite_and_silent(dtype):
    z = mg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]), dtype=dtype,
                  requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.softmax_cross_entropy(z, np.array([1, 2]))
        loss.backward()
    assert loss.dtype == dtype and z.grad.dtype == dtype
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad.data))
    np.testing.assert_allclose(loss.item(), 1e4, rtol=1e-6)   # row 0: 2e4 / 2 rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_with_one_hot_float64_target(dtype):
    z = mg.tensor(np.zeros((2, 3)), dtype=dtype, requires_grad=True)
    loss = nn.CrossEntropyLoss()(z, np.eye(3)[[0, 2]])
    loss.backward()
    assert loss.dtype == dtype and z.grad.dtype == dtype
    np.testing.assert_allclose(loss.item(), np.log(3), rtol=1e-6)


def test_bad_input():
    loss = nn.SoftmaxCrossEntropy()
    z = mg.zeros(3, 10)
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy: label 10 is out of range for "
                                         r"10 classes \(labels must be in \[0, 9\]\)"):
        loss(z, np.array([0, 10, 2]))
    with pytest.raises(ValueError, match=r"label -1 is out of range"):
        loss(z, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\) for logits of shape "
                                         r"\(3, 10\), got \(2,\)"):
        loss(z, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"probabilities must have the logits' shape \(3, 10\), "
                                         r"got \(3, 9\)"):
        loss(z, np.full((3, 9), 0.1))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\), got \(10,\)"):
        loss(mg.zeros(10), np.array([1]))
    with pytest.raises(TypeError, match="expected a floating tensor"):
        loss(mg.tensor(np.zeros((3, 10), dtype=int)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="target must be integer labels or floating"):
        loss(z, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.SoftmaxCrossEntropy("avg")


@pytest.mark.parametrize("dtype", ["i1", "u1", "<i2", ">i2", "<i4", ">i4", "<i8", ">i8", ">u8"])
def test_labels_of_every_integer_dtype_are_range_checked(dtype):
    # the check is one maximum over the labels read as unsigned: negative labels must still
    # fail, in either byte order and with more classes than int8 holds (−100 reads as 156)
    loss = nn.SoftmaxCrossEntropy()
    z = mg.zeros(3, 200)
    assert loss(z, np.array([0, 5, 100], dtype=dtype)).item() == pytest.approx(np.log(200))
    bad = [-100, -1] if np.dtype(dtype).kind == "i" else []
    if np.iinfo(dtype).max >= 200:
        bad.append(200)
    for label in bad:
        with pytest.raises(ValueError, match=f"label {label} is out of range for 200 classes"):
            loss(z, np.array([0, label, 5], dtype=dtype))


def test_second_order_through_the_loss_raises():
    z = leaf(np.array([[1.0, 2.0], [0.5, -1.0]]))
    (gz,) = mg.grad(F.softmax_cross_entropy(z, np.array([0, 1])), [z], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        (gz * gz).sum().backward()
