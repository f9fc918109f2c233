"""One kink rule for every checker: gradcheck and check_layer classify the same cases alike."""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad.finite_differences import at_kink, central_difference, slopes_differ
from minigrad.gradcheck import GradcheckError
from minigrad.testing import check_layer

X = np.array([[0.0, 1.5, -0.7], [2.0, 0.0, -1.0]])     # two elements at ReLU's kink


class NegativeAtZeroReLU(mg.Function):
    """ReLU whose backward gives −1 at 0: outside both one-sided slopes (0 and 1)."""

    def forward(self, x):
        self.slope = np.where(x > 0, 1.0, np.where(x == 0, -1.0, 0.0))
        return np.maximum(x, 0)

    def backward(self, gy):
        return gy * self.slope


class DoubledReLU(mg.Function):
    """ReLU whose backward doubles the gradient away from 0: wrong next to the kink."""

    def forward(self, x):
        self.slope = 2.0 * (x > 0)
        return np.maximum(x, 0)

    def backward(self, gy):
        return gy * self.slope


CASES = [("ReLU at 0", F.relu, True),
         ("a backward outside both slopes at the kink", NegativeAtZeroReLU.apply, False),
         ("a wrong gradient next to the kink", DoubledReLU.apply, False)]


@pytest.mark.parametrize("f, at_a_kink", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gradcheck_and_check_layer_classify_alike(f, at_a_kink):
    with pytest.raises(GradcheckError) as caught:
        mg.gradcheck(f, [mg.tensor(X, requires_grad=True)], seed=0)
    assert ("kink" in str(caught.value)) == at_a_kink
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if at_a_kink:
            report = check_layer(f, X)
            assert report.gradients[0].kinks == 2
        else:
            with pytest.raises(GradcheckError, match="is wrong"):
                check_layer(f, X)


def test_the_kink_rule_on_its_own():
    x = X.copy()
    v = np.random.default_rng(0).standard_normal(x.shape)

    def weighted():                                    # ⟨v, relu(x)⟩
        return float(np.vdot(v, np.maximum(x, 0)))

    numeric = central_difference(weighted, x, 1e-6)
    assert np.allclose(numeric, v * np.where(x == 0, 0.5, x > 0))   # the mean at the kink
    assert np.array_equal(x, X)                                       # every element restored
    suspects = x == 0
    right = v * (x > 0)                       # ReLU's backward: 0 at the kink, a valid choice
    assert np.array_equal(at_kink(weighted, x, right, suspects, 1e-6, 1e-5, 1e-3), suspects)
    wrong = np.where(suspects, -v, right)     # outside both one-sided slopes 0 and v
    assert not at_kink(weighted, x, wrong, suspects, 1e-6, 1e-5, 1e-3).any()
    assert slopes_differ(0.0, 1.0, 1e-6) and not slopes_differ(1.0, 1.0 + 1e-5, 1e-6)
