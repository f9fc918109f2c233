"""gradcheck must FAIL, readably, on wrong backwards and pass the right ones."""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given

import minigrad as mg
from minigrad import functional as F
from minigrad.gradcheck import GradcheckWarning
from minigrad.testing import check_layer
from minigrad.testing import strategies as mst

RNG = np.random.default_rng(0)


def leaf(data):
    return mg.tensor(data, dtype=np.float64, requires_grad=True)


# -- deliberately wrong (and right) custom Functions -------------------------------------------
class Exp(mg.Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return gy * self.output


class FlippedSignExp(Exp):
    def backward(self, gy):
        return -gy * self.output


class IgnoresUpstreamExp(Exp):
    def backward(self, gy):
        return self.output                 # right only when the upstream gradient is all ones


class LeftMatmul(mg.Function):
    """y = A @ x with a constant square A."""

    def forward(self, x, a=None):
        self.a = a
        return a @ x

    def backward(self, gy):
        return mg.tensor(self.a.T) @ gy


class TransposedLeftMatmul(LeftMatmul):
    def backward(self, gy):
        return mg.tensor(self.a) @ gy      # forgot the transpose


class OuterAdd(mg.Function):
    """y[i, j] = a[i] + b[j]."""

    def forward(self, a, b):
        return a[:, None] + b[None, :]

    def backward(self, gy):
        return gy.sum(axis=1), gy.sum(axis=0)


class UnreducedOuterAdd(OuterAdd):
    def backward(self, gy):
        return gy, gy                      # no reduction back to the inputs' shapes


class Softmax(mg.Function):
    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, gy):
        y = self.output
        return y * (gy - (gy * y).sum(axis=-1, keepdims=True))


class ZeroSoftmax(Softmax):
    def backward(self, gy):
        return gy * 0.0                    # sum(softmax) is constant: a sum-based check passes


class RawSquare(mg.Function):
    """y = x²; its backward uses raw arrays, so its own derivative is silently lost."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * (2 * self.inputs[0].data)


class InPlaceUpstream(Exp):
    def backward(self, gy):
        gy.data *= 1.0                     # harmless value, but it writes into gy
        gy.data[...] = gy.data
        np.multiply(gy.data, 1.0, out=gy.data)
        gy.data += 0.0
        gy.data[...] *= 2.0
        return gy * self.output / 2.0


A = RNG.standard_normal((3, 3))
X = RNG.standard_normal((3, 2))

WRONG = [
    ("flipped sign", FlippedSignExp.apply, [X]),
    ("transposed gradient", lambda x: TransposedLeftMatmul.apply(x, a=A), [X]),
    ("ignores the upstream gradient", IgnoresUpstreamExp.apply, [X]),
    ("softmax backward returns zeros", ZeroSoftmax.apply, [X.T]),
]
RIGHT = [
    ("exp", Exp.apply, [X]),
    ("left matmul", lambda x: LeftMatmul.apply(x, a=A), [X]),
    ("outer add", OuterAdd.apply, [X[:, 0], X[:, 1]]),
    ("softmax", Softmax.apply, [X.T]),
]


@pytest.mark.parametrize("name, f, arrays", WRONG, ids=[w[0] for w in WRONG])
def test_gradcheck_fails_on_a_wrong_backward_with_a_readable_message(name, f, arrays):
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(f, [leaf(a) for a in arrays], seed=0)
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert re.search(r"input \d \(shape \(\d(, \d)?,?\)\)", message), message
    assert re.search(r"index \(\d(, \d)?,?\)", message), message
    assert re.search(r"analytic -?[\d.e+-]+ vs numerical -?[\d.e+-]+", message), message
    assert "abs error" in message and "rel error" in message
    assert not mg.gradcheck(f, [leaf(a) for a in arrays], seed=0, raise_exception=False)


@pytest.mark.parametrize("name, f, arrays", RIGHT, ids=[r[0] for r in RIGHT])
def test_gradcheck_passes_the_right_backwards(name, f, arrays):
    assert mg.gradcheck(f, [leaf(a) for a in arrays], seed=0)
    assert mg.gradgradcheck(f, [leaf(a) for a in arrays], seed=0)


def test_the_mistakes_a_sum_based_check_would_miss():
    # With an all-ones upstream gradient (the gradient of sum(f(x))) these two wrong backwards
    # give the right numbers, which is why gradcheck uses random upstream gradients instead.
    for f in (IgnoresUpstreamExp.apply, ZeroSoftmax.apply):
        x = leaf(X)
        f(x).sum().backward()
        numeric = mg.numerical_gradient(lambda t: f(t).sum(), leaf(X))
        np.testing.assert_allclose(x.grad.data, numeric, atol=1e-8)


def test_the_failure_names_the_input_that_is_wrong():
    def f(a, b):
        return Exp.apply(a) + FlippedSignExp.apply(b)
    with pytest.raises(mg.GradcheckError, match=r"input 1 \(shape \(3, 2\)\)"):
        mg.gradcheck(f, [leaf(X), leaf(X)])


def test_a_missing_reduction_of_a_non_square_shape_is_an_error_naming_the_shapes():
    with pytest.raises(mg.GradcheckError, match=r"\(4, 3\).*\(4,\)"):
        mg.gradcheck(UnreducedOuterAdd.apply, [leaf(np.ones(4)), leaf(np.ones(3))])


@pytest.mark.parametrize("a, b", [(X[:, 0], X[:, 1]), (np.ones(4), np.ones(3))])
def test_a_missing_reduction_is_seen_in_the_raw_gradient_before_the_engine_sums_it(a, b):
    # for two (3,) inputs the engine's sum_to turns gy (3, 3) into a (3,) gradient of input 1
    # (summed over axis 0), which central differences catch only by luck of the values; the raw
    # shape is caught always, with the axes to sum over
    with pytest.raises(mg.GradcheckError, match=r"UnreducedOuterAdd.backward returned a "
                       r"gradient of shape \(\d, 3\) for its input 0 of shape \(\d,\) "
                       r"\(input 0 of f\): a forgotten broadcast reduction; sum it over "
                       r"axis \d"):
        mg.gradcheck(UnreducedOuterAdd.apply, [leaf(a), leaf(b)])
    assert not mg.gradcheck(UnreducedOuterAdd.apply, [leaf(a), leaf(b)],
                            raise_exception=False)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = [leaf(X)]
    assert mg.gradcheck(RawSquare.apply, x)
    with pytest.raises(mg.GradcheckError):
        mg.gradgradcheck(RawSquare.apply, x)
    assert not mg.gradgradcheck(RawSquare.apply, x, raise_exception=False)


def test_a_backward_that_writes_into_its_upstream_gradient_is_caught():
    with pytest.raises(mg.GradcheckError, match="in place"):
        mg.gradcheck(InPlaceUpstream.apply, [leaf(X)])


def test_a_nondeterministic_function_is_caught():
    rng = np.random.default_rng(0)
    with pytest.raises(mg.GradcheckError, match="differs between two calls"):
        mg.gradcheck(lambda x: x * rng.standard_normal(x.shape), [leaf(X)])


@pytest.mark.parametrize("f, x", [(F.relu, [0.0, 1.0, -1.0]),
                                  (lambda t: F.clip(t, 0.0, 1.0), [[0.5, 1.0]]),
                                  (lambda t: (t * 3.0 - 1.5).relu().sum(), [0.5])])
def test_a_kink_is_reported_as_such(f, x):
    # At a kink the central difference averages the two one-sided slopes, however small eps.
    with pytest.raises(mg.GradcheckError, match="kink"):
        mg.gradcheck(f, [leaf(x)], seed=0)


def test_a_wrong_smooth_gradient_is_not_blamed_on_a_kink():
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(FlippedSignExp.apply, [leaf(X * 3)])
    assert "kink" not in str(info.value)


def test_a_vacuous_pass_warns():
    with pytest.warns(GradcheckWarning, match="vacuously"):
        assert mg.gradcheck(lambda x: x * 0.0, [leaf(X)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mg.gradcheck(lambda x: x * 2.0, [leaf(X)])


# -- inputs ------------------------------------------------------------------------------------
def test_float32_input_is_refused_with_the_reason():
    x = mg.tensor(X, dtype=np.float32, requires_grad=True)
    with pytest.raises(TypeError, match=r"gradcheck: input 0 has dtype float32.*float64"):
        mg.gradcheck(F.tanh, [x])
    with pytest.raises(TypeError, match=r"gradgradcheck: input 0 has dtype float32"):
        mg.gradgradcheck(F.tanh, [x])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused(bad):
    data = X.copy()
    data[1, 0] = bad
    with pytest.raises(ValueError, match=r"gradcheck: input 0 \(shape \(3, 2\)\).*NaN or Inf"):
        mg.gradcheck(F.tanh, [leaf(data)])


def test_nothing_to_check_is_an_error():
    with pytest.raises(ValueError, match="no input requires grad"):
        mg.gradcheck(F.tanh, [mg.tensor(X)])


def test_constants_and_inputs_without_grad_are_passed_through():
    w = mg.tensor(X)                       # float32 would be fine too: it is not checked
    c = mg.tensor(np.float32(2.0))
    assert mg.gradcheck(lambda x, w, c, k: (x * w * c + k).tanh(),
                        (leaf(X), w, c, np.ones((3, 2))))


def test_single_tensor_input_and_several_outputs():
    assert mg.gradcheck(lambda x: (x.exp(), x.sum(axis=0), x[0]), leaf(X))
    with pytest.raises(mg.GradcheckError, match="through output 1"):
        mg.gradcheck(lambda x: (Exp.apply(x), FlippedSignExp.apply(x)), leaf(X))


def test_the_seed_makes_the_check_repeatable():
    messages = []
    for _ in range(2):
        with pytest.raises(mg.GradcheckError) as info:
            mg.gradcheck(FlippedSignExp.apply, [leaf(X)], seed=7)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_checks_do_not_change_the_inputs():
    x = leaf(X)
    mg.gradcheck(F.tanh, [x])
    mg.gradgradcheck(F.tanh, [x])
    np.testing.assert_array_equal(x.data, X)
    assert x.grad is None


# -- numerical_gradient ------------------------------------------------------------------------
@given(x=mst.arrays())
def test_numerical_gradient_of_a_scalar_function(x):
    numeric = mg.numerical_gradient(lambda t: (t ** 3).sum(), leaf(x))
    np.testing.assert_allclose(numeric, 3 * x ** 2, rtol=1e-5, atol=1e-6)


def test_numerical_gradient_several_inputs_ndarrays_and_grad_output():
    a, b = X.copy(), X[::-1].copy()
    ga, gb = mg.numerical_gradient(lambda s, t: (s * t).sum(), a, b)
    np.testing.assert_allclose(ga, X[::-1], rtol=1e-6)
    np.testing.assert_allclose(gb, X, rtol=1e-6)
    np.testing.assert_array_equal(a, X)                         # restored after each step
    v = RNG.standard_normal((3, 2))
    g = mg.numerical_gradient(lambda t: t * 2, leaf(X), grad_output=v)
    np.testing.assert_allclose(g, 2 * v, rtol=1e-6)


def test_numerical_gradient_bad_input():
    with pytest.raises(ValueError, match=r"one value.*\(3, 2\)"):
        mg.numerical_gradient(lambda t: t * 2, leaf(X))
    with pytest.raises(TypeError, match="input 0 must be a floating"):
        mg.numerical_gradient(lambda t: t.sum(), mg.tensor([1, 2]))


@pytest.mark.parametrize("settings, message", [
    (dict(atol=float("nan")), "atol must be a finite non-negative number, got nan"),
    (dict(rtol=float("nan")), "rtol must be a finite non-negative number, got nan"),
    (dict(atol=float("inf")), "atol must be a finite non-negative number, got inf"),
    (dict(rtol=-1e-3), "rtol must be a finite non-negative number"),
    (dict(eps=0.0), "eps must be a finite positive number, got 0.0"),
    (dict(seed=-1), "seed must be a non-negative integer, got -1"),
])
def test_settings_that_would_let_any_gradient_pass_are_refused(settings, message):
    x = mg.tensor(np.array([0.3, -1.2]), requires_grad=True)
    for check in (mg.gradcheck, mg.gradgradcheck):
        with pytest.raises(ValueError, match=message):
            check(lambda t: t * t, [x], **settings)
    with pytest.raises(ValueError, match=message):
        check_layer(lambda t: t * t, (3, 2), **settings)


# -- raw gradients: the user's backward, not minigrad's own broadcasting ops -----------------
class AddBias(mg.Function):
    """A user's op y = x + b whose backward leaves db unsummed, as minigrad's Add may."""

    def forward(self, x, b):
        return x + b

    def backward(self, gy):
        return gy, gy


def test_the_raw_shape_rule_is_for_the_users_functions_not_minigrads_broadcasting_ops():
    from minigrad.functional.arithmetic import Add
    from minigrad.gradcheck import is_under_test
    x, b = leaf(RNG.standard_normal((4, 3))), leaf(RNG.standard_normal(3))
    assert not is_under_test((x + b).grad_fn) and isinstance((x + b).grad_fn, Add)
    # minigrad's Add relies on the engine's sum_to (as PyTorch's does): not an error
    assert mg.gradcheck(lambda p, q: p + q, [x, b])
    assert mg.gradcheck(lambda p, q: (p * q).tanh(), [x, b])
    # the same unreduced gradient from a user's Function is an error naming the axis
    assert is_under_test(AddBias())
    with pytest.raises(mg.GradcheckError, match=r"AddBias.backward returned a gradient of shape "
                       r"\(4, 3\) for its input 1 of shape \(3,\) \(input 1 of f\): a forgotten "
                       r"broadcast reduction; sum it over axis 0"):
        mg.gradcheck(AddBias.apply, [x, b])


@pytest.mark.parametrize("grad_shape, shape, upstream, expected", [
    ((8, 5), (5,), (8, 5), "a forgotten broadcast reduction; sum it over axis 0,"),
    ((8, 5), (1, 5), (8, 5), "sum it over axis 0, with keepdims=True"),
    ((2, 3, 4), (3,), (2, 3, 4), "sum it over axes (0, 2)"),
    ((8,), (5,), (8, 5), "summed over the wrong axis; it is the upstream gradient (8, 5) summed "
                         "over axis 1, but this input was broadcast over axis 0"),
    ((5,), (1, 5), (8, 5), "the right number of values in the wrong shape"),
    ((3, 5), (5, 3), (4, 3), "a transposed gradient"),
    ((7,), (5,), (7,), "a backward must return one gradient of each input's shape"),
])
def test_a_raw_gradient_of_the_wrong_shape_is_explained(grad_shape, shape, upstream, expected):
    from minigrad.gradcheck import raw_shape_problem
    message = raw_shape_problem("Op", 1, "", grad_shape, shape, [upstream])
    assert message.startswith(f"Op.backward returned a gradient of shape {grad_shape} for its "
                              f"input 1 of shape {shape}: ")
    assert expected in message


class NumpyBackwardExp(Exp):
    def backward(self, gy):
        return mg.Tensor(gy.data * self.output.data)     # right, but off the tape


class OnceNumpyBackwardExp(NumpyBackwardExp):
    once_differentiable = True


def test_gradgradcheck_through_a_raw_numpy_backward_names_both_fixes():
    x = [leaf(X)]
    assert mg.gradcheck(NumpyBackwardExp.apply, x)
    with pytest.raises(mg.GradcheckError) as caught:
        mg.gradgradcheck(NumpyBackwardExp.apply, x)
    message = str(caught.value)
    assert message.startswith("gradgradcheck: NumpyBackwardExp.backward returned a gradient "
                              "that is not on the tape")
    assert "write NumpyBackwardExp.backward with Tensor ops" in message
    assert "`once_differentiable = True`" in message
    assert "nothing to check" not in message
    assert not mg.gradgradcheck(NumpyBackwardExp.apply, x, raise_exception=False)
    with pytest.raises(RuntimeError, match="OnceNumpyBackwardExp is once_differentiable"):
        mg.gradgradcheck(OnceNumpyBackwardExp.apply, x)      # the other fix: a clear error
