"""PyTorch's spellings in minigrad (pytorch_methods, pytorch_api, the new losses, modules, init
and loaders): gradients by central differences on hypothesis-drawn data, forward against NumPy,
against PyTorch when installed, and every ambiguous or unsupported call refused by name."""
import copy
import math
import pickle

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import ExponentialLR, MultiStepLR, ReduceLROnPlateau
from minigrad.testing import strategies as mst

pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")


def leaf(array, dtype=None):
    """A fresh float tensor that requires grad (a copy)."""
    return mg.tensor(array, dtype=dtype, requires_grad=True)


@st.composite
def array_and_dim(draw, distinct=False):
    """A float64 array of at least one dimension and a dim of it (maybe negative)."""
    x = draw(mst.arrays(mst.shapes(min_dims=1, min_side=1)))
    if distinct:                  # no two values tie, so the gradient has no kink
        x = x + np.arange(x.size).reshape(x.shape) * 0.1
        gaps = np.diff(np.sort(x.ravel()))
        assume(gaps.size == 0 or gaps.min() > 1e-3)
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


# -- max(dim) / min(dim) ---------------------------------------------------------------------
@pytest.mark.parametrize("op", ["max", "min"])
@given(case=array_and_dim(distinct=True), keepdim=st.booleans())
def test_extreme_along_dim_values_indices_and_gradient(op, case, keepdim):
    x, dim = case
    t = leaf(x)
    values, indices = getattr(t, op)(dim, keepdim=keepdim)
    reduce, arg = (np.max, np.argmax) if op == "max" else (np.min, np.argmin)
    np.testing.assert_array_equal(values.data, reduce(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(indices.data, arg(x, axis=dim, keepdims=keepdim))
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert mg.gradcheck(lambda a: getattr(a, op)(dim=dim, keepdim=keepdim).values, [t], seed=0)
    assert mg.gradgradcheck(lambda a: getattr(a, op)(dim=dim).values, [t], seed=1)


def test_max_dim_gives_the_gradient_to_the_first_of_ties_and_keeps_float32():
    x = mg.tensor(np.array([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]], np.float32), requires_grad=True)
    values, indices = x.max(1)
    g = np.array([3.0, -2.0], np.float32)
    values.backward(g)
    assert values.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [[3, 0, 0], [0, -2, 0]])
    np.testing.assert_array_equal(indices.data, [0, 1])


@pytest.mark.parametrize("op", ["amax", "amin"])
@given(case=array_and_dim(), keepdim=st.booleans())
def test_amax_amin_match_numpy_and_split_ties_evenly(op, case, keepdim):
    x, dim = case
    x = np.round(x)                                       # ties are common
    t = leaf(x)
    y = getattr(t, op)(dim, keepdim)
    reduce = np.max if op == "amax" else np.min
    np.testing.assert_array_equal(y.data, reduce(x, axis=dim, keepdims=keepdim))
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    hits = x == reduce(x, axis=dim, keepdims=True)
    share = hits / hits.sum(axis=dim, keepdims=True)
    g_full = np.expand_dims(g, dim) if not keepdim else g
    np.testing.assert_allclose(t.grad.data, share * g_full, rtol=1e-12)


def test_amax_ties_against_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    g = np.array([0.7, -1.3])
    a = leaf(x)
    a.amax(dim=1).backward(g)
    b = torch.tensor(x, requires_grad=True)
    b.amax(dim=1).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12)
    a.grad = None
    b.grad = None
    a.max(dim=1).values.backward(g)
    b.max(dim=1).values.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12)


@given(case=array_and_dim(), keepdim=st.booleans())
def test_argmax_argmin_match_numpy(case, keepdim):
    x, dim = case
    t = mg.tensor(x)
    np.testing.assert_array_equal(t.argmax(dim=dim, keepdim=keepdim).data,
                                  np.argmax(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(t.argmin(dim).data, np.argmin(x, axis=dim))
    assert t.argmax().item() == np.argmax(x) and t.argmax().dtype == np.int64


# -- the two spellings -----------------------------------------------------------------------
def test_numpy_keywords_keep_numpy_meaning():
    x = mg.tensor(np.array([[1.0, 4.0], [3.0, 2.0]]))
    np.testing.assert_array_equal(x.max(axis=1).data, [4.0, 3.0])          # the values
    np.testing.assert_array_equal(x.min(axis=0, keepdims=True).data, [[1.0, 2.0]])
    assert x.var(axis=0).data.tolist() == [1.0, 1.0]                       # divides by n
    assert x.var(axis=None, ddof=1).item() == pytest.approx(np.var(x.data, ddof=1))
    assert x.var(0, ddof=0).data.tolist() == [1.0, 1.0]                    # ddof says it


@pytest.mark.parametrize("call, words", [
    (lambda x: x.max(1, keepdims=True), "max: dim is PyTorch's spelling and keepdims="),
    (lambda x: x.max(dim=1, axis=1), "max: dim is PyTorch's spelling and axis="),
    (lambda x: x.min(keepdim=True, axis=0), "min: keepdim is PyTorch's"),
    (lambda x: x.var(1, keepdims=True), "var: dim is PyTorch's.*n - 1"),
    (lambda x: x.std(dim=0, axis=0), "std: give dim= .PyTorch. or axis= .NumPy., not both"),
    (lambda x: x.var(correction=1, ddof=1), "var: give one of correction=, unbiased= and ddof="),
    (lambda x: x.sum(dim=0, axis=0), "sum: give dim= .PyTorch. or axis= .NumPy., not both"),
    (lambda x: x.sum(0, True, keepdims=True), "sum: give keepdim= .PyTorch. or keepdims="),
    (lambda x: x.softmax(dim=0, axis=1), "softmax: give dim="),
    (lambda x: F.softmax(x, 0, dim=1), "softmax: give dim="),
    (lambda x: x.max((0, 1)), r"max: dim must be an int.*amax\(dim=\(0, 1\)\)"),
    (lambda x: x.max(keepdim=True), "max: keepdim= needs a dim"),
    (lambda x: x.max(x, keepdim=True), "elementwise max takes no dim"),
    (lambda x: x.sum(0, keepdim=1), "sum: keepdim must be a bool, got 1"),
    (lambda x: x.var(unbiased=1), "var: unbiased must be a bool"),
    (lambda x: x.view(np.float32), r"view: .*view\(dtype\)"),
    (lambda x: x.size("a"), "size: dim must be an int"),
    (lambda x: x.max(1.5), "dim must be an int|axis must be an int"),
    (lambda x: x.argmax((0, 1)), "argmax: axis must be an int"),
])
def test_ambiguous_or_wrong_spellings_are_type_errors(call, words):
    with pytest.raises(TypeError, match=words):
        call(mg.tensor(np.ones((2, 3))))


@pytest.mark.parametrize("call, words", [
    (lambda x: x.size(2), "size: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda x: x.t().t()[None].t(), "t: expects a tensor of at most 2 dimensions"),
    (lambda x: x.to("cuda"), "to: minigrad runs on the CPU only, got device 'cuda'"),
    (lambda x: x.max(dim=5), "max: axis 5 is out of range"),
    (lambda x: x[:, :0].max(1), "max: cannot reduce an empty axis"),
    (lambda x: x[:, :0].argmax(1), "argmax: cannot reduce an empty axis"),
    (lambda x: mg.tensor(1.0).max(0), "max: dim needs a tensor with at least one dimension"),
    (lambda x: x.var(dim=1, correction=3), r"var: ddof=3(\.0)? needs 0 <= ddof < n"),
    (lambda x: x.clamp(), "clip: at least one of min and max"),
])
def test_bad_values_are_value_errors(call, words):
    with pytest.raises(ValueError, match=words):
        call(mg.tensor(np.ones((2, 3))))


# -- var and std -----------------------------------------------------------------------------
@given(case=array_and_dim(), correction=st.sampled_from([0, 1]), keepdim=st.booleans())
def test_var_std_with_correction(case, correction, keepdim):
    x, dim = case
    assume(x.shape[dim] > correction)
    x = x + np.linspace(0, 1, x.size).reshape(x.shape)    # spread: std stays away from 0
    t = leaf(x)
    v = t.var(dim, correction=correction, keepdim=keepdim)
    s = t.std(dim=dim, unbiased=bool(correction), keepdim=keepdim)
    np.testing.assert_allclose(v.data, x.var(axis=dim, ddof=correction, keepdims=keepdim),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s.data, x.std(axis=dim, ddof=correction, keepdims=keepdim),
                               rtol=1e-12, atol=1e-14)
    assume(x.var(axis=dim, ddof=correction).min() > 1e-3)
    assert mg.gradcheck(lambda a: a.std(dim, correction=correction, keepdim=keepdim), [t],
                        seed=0)


def test_var_std_defaults_against_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((4, 5))
    a, b = mg.tensor(x), torch.tensor(x)
    for call in (lambda t: t.var(), lambda t: t.std(), lambda t: t.var(1), lambda t: t.std(0),
                 lambda t: t.var(True), lambda t: t.var(1, False), lambda t: t.std(1, True, True),
                 lambda t: t.var(dim=0, correction=0), lambda t: t.std(dim=(0, 1))):
        np.testing.assert_allclose(call(a).data, call(b).numpy(), rtol=1e-12)


# -- shape, copies, casts --------------------------------------------------------------------
def test_size_is_both_an_int_and_a_method():
    x = mg.zeros(2, 3)
    assert x.size == 6 and x.size * 2 == 12 and isinstance(x.size, int)
    assert x.size() == (2, 3) and x.size(0) == 2 and x.size(-1) == 3
    assert np.zeros(x.size).shape == (6,) and f"{x.size}" == "6"
    assert copy.deepcopy(x.size) == 6 and type(pickle.loads(pickle.dumps(x.size))) is int


@given(case=array_and_dim(), data=st.data())
def test_transpose_two_dims_swaps_them_and_clone_copies(case, data):
    x, d0 = case
    d1 = data.draw(st.integers(-x.ndim, x.ndim - 1))
    t = leaf(x)
    np.testing.assert_array_equal(t.transpose(d0, d1).data, np.swapaxes(x, d0, d1))
    assert mg.gradcheck(lambda a: a.transpose(d0, d1), [t], seed=0)
    c = t.clone()
    assert not np.shares_memory(c.data, x) and np.array_equal(c.data, x)
    assert mg.gradcheck(lambda a: a.clone() * a, [t], seed=1)
    assert mg.gradcheck(lambda a: a.view(-1), [t], seed=2)


def test_casts_are_differentiable_between_floats_only():
    x = mg.tensor(np.array([1.5, -2.5]), requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64 and np.allclose(x.grad.data, 2 * x.data)
    assert not x.long().requires_grad and x.long().data.tolist() == [1, -2]
    assert x.to(mg.tensor(np.zeros(1, np.int32))).dtype == np.int32
    assert x.to(dtype=mg.float32, copy=True).dtype == np.float32
    assert x.to(mg.float64, copy=True) is not x and x.to(mg.float64) is x
    assert x.type() == "minigrad.DoubleTensor" and x.float().type() == "minigrad.FloatTensor"
    assert x.bool().data.tolist() == [True, True] and x.half().dtype == np.float16
    assert x.int().dtype == np.int32


def test_double_casts_gradcheck():
    x = leaf(np.array([[0.3, -1.2], [2.0, 0.7]]))
    assert mg.gradcheck(lambda a: a.to(mg.float64).pow(3).clamp(-2.0, 4.0), [x], seed=0)


# -- top level -------------------------------------------------------------------------------
def test_top_level_reductions_are_the_methods():
    x = mg.tensor(np.array([[1.0, 4.0], [3.0, 2.0]]))
    assert mg.max(x, dim=1).indices.data.tolist() == [1, 0]
    assert mg.max(x, 1)[0].data.tolist() == [4.0, 3.0]
    assert mg.max(x, axis=1).data.tolist() == [4.0, 3.0]
    assert mg.max(x, mg.tensor(np.full((2, 2), 2.5))).data.tolist() == [[2.5, 4.0], [3.0, 2.5]]
    assert mg.argmax(x).item() == 1 and mg.numel(x) == 4
    assert mg.transpose(x, 0, 1).data.tolist() == [[1.0, 3.0], [4.0, 2.0]]
    with pytest.raises(TypeError, match="max: input must be a Tensor, got list"):
        mg.max([1.0, 2.0])


def test_factories_and_conversions():
    assert mg.eye(2, dtype=mg.float64).dtype == np.float64
    assert mg.empty(2, 3).data.tolist() == [[0.0] * 3] * 2
    assert mg.empty((2,), dtype=mg.int64).dtype == np.int64
    a = np.arange(3.0)
    assert mg.as_tensor(a).data is a or np.shares_memory(mg.as_tensor(a).data, a)
    assert mg.as_tensor(a, dtype=mg.float32).dtype == np.float32
    assert mg.is_tensor(mg.zeros(1)) and not mg.is_tensor(a)
    with pytest.raises(TypeError, match="from_numpy: expected an np.ndarray, got list"):
        mg.from_numpy([1.0])
    with pytest.raises(TypeError, match="from_numpy: unsupported dtype"):
        mg.from_numpy(np.array(["a"]))
    with pytest.raises(ValueError, match="eye: the shape cannot have negative sizes"):
        mg.eye(-1)
    with pytest.raises(TypeError, match=r"where: needs where\(condition, input, other\)"):
        mg.where(mg.zeros(2) > 0)


def test_cat_stack_where_gradients():
    a, b = leaf(np.arange(6.0).reshape(2, 3) + 0.5), leaf(np.ones((2, 3)))
    assert mg.gradcheck(lambda p, q: mg.cat([p, q], dim=1), [a, b], seed=0)
    assert mg.gradcheck(lambda p, q: mg.stack([p, q], dim=2), [a, b], seed=1)
    assert mg.gradcheck(lambda p, q: mg.where(p > 2, p, q), [a, b], seed=2)


# -- losses and modules ----------------------------------------------------------------------
@given(x=mst.arrays(mst.shapes(min_dims=1)), data=st.data(),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_mse_loss_against_numpy_and_gradcheck(x, data, reduction):
    t = data.draw(mst.arrays(x.shape))
    a, b = leaf(x), leaf(t)
    loss = F.mse_loss(a, b, reduction=reduction)
    squared = (x - t) ** 2
    want = {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[reduction]
    np.testing.assert_allclose(loss.data, want, rtol=1e-12)
    np.testing.assert_allclose(nn.MSELoss(reduction)(a, b).data, want, rtol=1e-12)
    assert mg.gradcheck(lambda p, q: F.mse_loss(p, q, reduction), [a, b], seed=0)


def test_mse_loss_refuses_shapes_that_would_broadcast():
    x = mg.zeros(4, 1)
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(4, 1\) and target of "
                                         r"shape \(4,\) differ"):
        F.mse_loss(x, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="mse_loss: input has dtype float32 but target float64"):
        F.mse_loss(x, mg.zeros(4, 1, dtype=np.float64))
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        F.mse_loss(x, x, "avg")
    with pytest.raises(ValueError, match="MSELoss: reduction must be"):
        nn.MSELoss("avg")
    assert F.mse_loss(x, [[1.0]] * 4).dtype == np.float32        # a list takes x's dtype


def test_cross_entropy_is_softmax_cross_entropy_and_refuses_what_it_lacks():
    z = leaf(np.random.default_rng(0).standard_normal((5, 3)))
    y = np.array([0, 2, 1, 1, 0])
    np.testing.assert_array_equal(F.cross_entropy(z, y, reduction="none").data,
                                  F.softmax_cross_entropy(z, y, "none").data)
    assert mg.gradcheck(lambda a: F.cross_entropy(a, y, reduction="sum"), [z], seed=0)
    for kwargs, word in [({"weight": np.ones(3)}, "weight"), ({"ignore_index": 0}, "ignore"),
                         ({"label_smoothing": 0.1}, "label_smoothing")]:
        with pytest.raises(NotImplementedError, match=f"cross_entropy: .*{word}"):
            F.cross_entropy(z, y, **kwargs)
    with pytest.raises(ValueError, match="cross_entropy: label -100 is out of range"):
        F.cross_entropy(z, np.array([0, -100, 1, 1, 0]))


@pytest.mark.parametrize("layer, reference", [
    (nn.Softmax, lambda x, d: np.exp(x) / np.exp(x).sum(d, keepdims=True)),
    (nn.LogSoftmax, lambda x, d: x - np.log(np.exp(x).sum(d, keepdims=True))),
])
@given(case=array_and_dim())
def test_softmax_layers(layer, reference, case):
    x, dim = case
    t = leaf(x)
    np.testing.assert_allclose(layer(dim)(t).data, reference(x, dim), rtol=1e-10, atol=1e-12)
    assert mg.gradcheck(layer(dim=dim), [t], seed=0)


def test_softmax_layers_need_an_int_dim():
    for bad in (None, 1.5, True):
        with pytest.raises(TypeError, match="Softmax: dim must be an int"):
            nn.Softmax(bad)
    assert repr(nn.LogSoftmax(1)) == "LogSoftmax(dim=1)"


# -- init ------------------------------------------------------------------------------------
def test_init_fans_and_gains_against_torch():
    torch = pytest.importorskip("torch")
    for name in ("linear", "sigmoid", "tanh", "relu", "selu"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    ours = nn.Parameter(np.empty((300, 100), np.float32))      # (in, out)
    theirs = torch.empty(100, 300)                             # (out, in)
    for name, kwargs in [("kaiming_normal_", {}), ("kaiming_normal_", {"mode": "fan_out"}),
                         ("kaiming_uniform_", {"a": math.sqrt(5)}), ("xavier_uniform_", {}),
                         ("xavier_normal_", {"gain": 2.0}),
                         ("kaiming_normal_", {"nonlinearity": "tanh"})]:
        getattr(nn.init, name)(ours, **kwargs)
        getattr(torch.nn.init, name)(theirs, **kwargs)
        assert ours.data.std() == pytest.approx(theirs.std().item(), rel=0.03), name
        if "uniform" in name:
            assert np.abs(ours.data).max() == pytest.approx(theirs.abs().max().item(),
                                                            rel=0.01)
    assert ours.dtype == np.float32


def conv_weight_fans(shape):
    """PyTorch's fans of an (out_channels, in_channels, kH, kW) weight, by definition."""
    out_channels, in_channels, kh, kw = shape
    return in_channels * kh * kw, out_channels * kh * kw


@pytest.mark.parametrize("shape", [(8, 3, 5, 5), (16, 4, 3, 2), (1, 1, 1, 1)])
def test_init_of_a_conv_weight_uses_pytorchs_fans(shape):
    # minigrad's conv weights have PyTorch's layout, so their fans must be PyTorch's too: the
    # fan_in of (out, in, kH, kW) is in·kH·kW, not out·in·kH (a he_normal_ 2.2x too narrow)
    w = nn.Parameter(np.empty(shape))
    fan_in, fan_out = conv_weight_fans(shape)
    assert (nn.init.fan_in(w), nn.init.fan_out(w)) == (fan_in, fan_out)
    big = nn.Parameter(np.empty((64, *shape[1:])))
    nn.init.kaiming_normal_(big, rng=np.random.default_rng(0))
    assert big.data.std() == pytest.approx(math.sqrt(2 / conv_weight_fans(big.shape)[0]),
                                           rel=0.1)
    torch = pytest.importorskip("torch")
    theirs = torch.empty(*shape)
    assert (nn.init.fan_in(w), nn.init.fan_out(w)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(theirs)


def test_init_errors():
    w = nn.Parameter(np.empty((3, 2)))
    with pytest.raises(ValueError, match="kaiming_normal_: mode must be 'fan_in' or 'fan_out'"):
        nn.init.kaiming_normal_(w, mode="in")
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        nn.init.kaiming_uniform_(w, nonlinearity="swish")
    with pytest.raises(ValueError, match="xavier_uniform_: gain must be finite"):
        nn.init.xavier_uniform_(w, gain=math.inf)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.kaiming_uniform_(nn.Parameter(np.empty(3)))
    empty = nn.Parameter(np.empty((0, 3)))
    assert nn.init.kaiming_normal_(empty) is empty and empty._version == 0


# -- data ------------------------------------------------------------------------------------
def test_tensor_dataset_and_loader_forms():
    X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    ds = TensorDataset(X, y)
    assert np.shares_memory(ds.tensors[0].data, X)
    assert [b[1].data.tolist() for b in DataLoader(ds, 2)] == [[0, 1], [2, 3], [4]]
    assert [b[1].data.tolist() for b in DataLoader(ds, 2, False, drop_last=True)] == \
        [[0, 1], [2, 3]]
    assert len(DataLoader(ds)) == 5                               # PyTorch's batch_size=1
    order = [b[1].item() for b in DataLoader(ds, 1, True, rng=np.random.default_rng(0))]
    assert order == np.random.default_rng(0).permutation(5).tolist()
    dicts = [{"x": np.ones(2) * i, "y": float(i)} for i in range(3)]
    batch = next(iter(DataLoader(dicts, batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["y"].data.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("make, error, words", [
    (lambda: TensorDataset(), ValueError, "TensorDataset: needs at least one tensor"),
    (lambda: TensorDataset(np.zeros(3), np.zeros(4)), ValueError, r"sizes \[3, 4\]"),
    (lambda: TensorDataset(np.float64(1.0)), ValueError, "tensor 0 is 0-d"),
    (lambda: DataLoader(5), TypeError, "DataLoader: expected a data set"),
    (lambda: DataLoader([]), ValueError, "DataLoader: the data set is empty"),
    (lambda: DataLoader([1, 2], 2, batch_size=3), TypeError, "batch_size given twice"),
    (lambda: DataLoader([1, 2], 0), ValueError, "batch_size must be a positive integer"),
    (lambda: DataLoader(np.zeros((3, 2)), np.zeros(3)), TypeError, "needs a batch_size"),
    (lambda: list(DataLoader([(1, 2), (3,)], 2)), ValueError, "every sample must have 2"),
    (lambda: list(DataLoader([np.ones(2), np.ones(3)], 2)), ValueError, "different shapes"),
    (lambda: list(DataLoader(["a", "b"], 2)), TypeError, "samples must hold numbers"),
])
def test_loader_errors(make, error, words):
    with pytest.raises(error, match=words):
        make()


# -- schedulers ------------------------------------------------------------------------------
def _optimizer(*lrs):
    groups = [{"params": [mg.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


@given(milestones=st.lists(st.integers(1, 12), max_size=5), gamma=st.floats(0.05, 1.0),
       lr=st.floats(1e-4, 1.0))
def test_multistep_and_exponential_follow_their_closed_forms(milestones, gamma, lr):
    opt = _optimizer(lr, 2 * lr)
    multi = MultiStepLR(opt, milestones, gamma)
    opt2 = _optimizer(lr)
    expo = ExponentialLR(opt2, gamma)
    for epoch in range(1, 15):
        multi.step()
        expo.step()
        decays = sum(m <= epoch for m in milestones)
        np.testing.assert_allclose(multi.get_last_lr(), [lr * gamma ** decays,
                                                         2 * lr * gamma ** decays], rtol=1e-9)
        assert expo.get_last_lr()[0] == pytest.approx(lr * gamma ** epoch, rel=1e-9)
    state = multi.state_dict()
    fresh = MultiStepLR(_optimizer(lr, 2 * lr), [1], 0.5)
    fresh.load_state_dict(state)
    assert fresh.milestones == sorted(milestones) and fresh.last_epoch == 14


@given(metrics=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=40),
       mode=st.sampled_from(["min", "max"]), threshold_mode=st.sampled_from(["rel", "abs"]),
       patience=st.integers(0, 4), cooldown=st.integers(0, 3), factor=st.floats(0.1, 0.9),
       min_lr=st.sampled_from([0.0, 0.01]))
def test_reduce_lr_on_plateau_against_torch(metrics, mode, threshold_mode, patience, cooldown,
                                            factor, min_lr):
    torch = pytest.importorskip("torch")
    kwargs = dict(mode=mode, factor=factor, patience=patience, threshold=0.05,
                  threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr)
    opt = _optimizer(0.1, 0.3)
    ours = ReduceLROnPlateau(opt, **kwargs)
    t_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                             for lr in (0.1, 0.3)])
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    for m in metrics:
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert ours.num_bad_epochs == theirs.num_bad_epochs and ours.best == theirs.best


def test_reduce_lr_on_plateau_state_and_errors():
    sched = ReduceLROnPlateau(_optimizer(0.1), patience=0)
    sched.step(1.0)
    sched.step(mg.tensor(2.0))
    assert sched.get_last_lr() == [pytest.approx(0.01)]
    state = sched.state_dict()
    other = ReduceLROnPlateau(_optimizer(0.1))
    other.load_state_dict(state)
    assert other.state_dict() == state
    bad = dict(state, patience=-1)
    with pytest.raises(ValueError, match="Invalid patience"):
        other.load_state_dict(bad)
    assert other.state_dict() == state
    for kwargs, words in [({"mode": "up"}, "mode must be 'min' or 'max'"),
                          ({"factor": 1.0}, "Invalid factor"),
                          ({"threshold_mode": "x"}, "threshold_mode must be"),
                          ({"min_lr": [0.0, 0.0]}, "expected 1 min_lr values"),
                          ({"cooldown": 1.5}, "Invalid cooldown")]:
        with pytest.raises(ValueError, match=words):
            ReduceLROnPlateau(_optimizer(0.1), **kwargs)
    with pytest.raises(TypeError, match="metrics must be a number"):
        sched.step("low")
    with pytest.raises(ValueError, match="Invalid milestones"):
        MultiStepLR(_optimizer(0.1), [0, 2])
