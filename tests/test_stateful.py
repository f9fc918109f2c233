"""A hypothesis state machine drives the engine through random sessions.

It builds tensors from a few parameters with random ops (some under ``no_grad``), calls
``backward`` with and without ``retain_graph``, ``mg.grad``, ``zero_grad``, updates parameters
and other tensors in place, and checks after every step:

- each tensor's value against a NumPy model of the same computation;
- each successful backward's gradients against central differences of that model;
- that every failure is one of the documented RuntimeErrors (graph freed by an earlier
  backward, a tensor modified in place after it was saved, an in-place update of a leaf that
  requires grad, a backward of a tensor that does not require grad), raised exactly when the
  model predicts it, and that a failed backward changes no ``.grad``.
"""
import itertools

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import minigrad as mg
from minigrad.testing import strategies as mst

SHAPE = (2, 3)
MAX_ENTRIES = 12


def _np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _np_log_softmax(a):
    m = a.max(axis=1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=1, keepdims=True))


UNARY = {
    "tanh": (lambda t: t.tanh(), np.tanh),
    "sigmoid": (lambda t: t.sigmoid(), _np_sigmoid),
    "exp_tanh": (lambda t: t.tanh().exp(), lambda a: np.exp(np.tanh(a))),
    "scale": (lambda t: t * 0.7, lambda a: a * 0.7),
    "square": (lambda t: t * t, lambda a: a * a),
    "center": (lambda t: t - t.mean(axis=0, keepdims=True), lambda a: a - a.mean(0, keepdims=True)),
    "log_softmax": (lambda t: t.log_softmax(axis=1), _np_log_softmax),
    "softmax": (lambda t: t.softmax(axis=1), lambda a: np.exp(_np_log_softmax(a))),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
}


class Entry:
    """A tensor of the session and what the model knows about it."""

    def __init__(self, tensor, fn, deps, ops, leaf_index=None):
        self.tensor = tensor
        self.fn = fn                  # values of the parameters -> this tensor's value
        self.deps = deps              # {(id(t), version): t}: versions the graph relies on
        self.ops = ops                # frozenset of ids of the recorded ops in its graph
        self.leaf_index = leaf_index  # which parameter, for a parameter


class EngineSession(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.params = []
        self.values = []              # the model's parameter values
        self.expected = []            # the model's accumulated gradients
        self.entries = []
        self.freed = set()            # ops freed by a backward without retain_graph
        self.unknown = set()          # ops that a failed backward may or may not have freed
        self.op_ids = itertools.count()
        self.weights = np.linspace(-1.0, 1.3, 6).reshape(SHAPE)

    # -- helpers -----------------------------------------------------------------------------
    def _add_param(self, value):
        index = len(self.params)
        p = mg.tensor(value, requires_grad=True)
        self.params.append(p)
        self.values.append(value.copy())
        self.expected.append(np.zeros(SHAPE))
        self.entries.append(Entry(p, lambda vals, i=index: vals[i], {}, frozenset(), index))

    def _combine(self, tensor, inputs, np_fn):
        """An entry for ``tensor`` = op(*inputs), with the model of what it depends on."""
        recorded = tensor.grad_fn is not None
        if recorded:
            deps = {}
            for e in inputs:
                deps.update(e.deps)
                deps[(id(e.tensor), e.tensor._version)] = e.tensor
            deps[(id(tensor), tensor._version)] = tensor        # its output, too
            ops = frozenset().union(*(e.ops for e in inputs)) | {next(self.op_ids)}
            fns = [e.fn if e.tensor.requires_grad else self._frozen(e) for e in inputs]
            fn = lambda vals, fns=fns: np_fn(*[f(vals) for f in fns])   # noqa: E731
        else:
            value = tensor.data.copy()
            deps, ops, fn = {}, frozenset(), (lambda vals, v=value: v)
        entry = Entry(tensor, fn, deps, ops)
        if recorded and not self._stale(entry):     # stale: built from since-updated values
            np.testing.assert_allclose(tensor.data, fn(self.values), rtol=1e-10, atol=1e-12)
        return entry

    @staticmethod
    def _frozen(entry):
        value = entry.tensor.data.copy()
        return lambda vals: value

    def _stale(self, entry):
        """True if a tensor the entry's graph saved was modified in place since."""
        return any(t._version != v for (_, v), t in entry.deps.items())

    def _usable(self, entry):
        return np.abs(entry.tensor.data).max() < 30

    def _numerical(self, entry):
        """d Σ(w ⊙ entry) / d parameter, by central differences of the model."""
        grads = []
        h = 1e-6
        for i, value in enumerate(self.values):
            g = np.zeros(SHAPE)
            for index in np.ndindex(SHAPE):
                vals = [v.copy() for v in self.values]
                vals[i][index] = value[index] + h
                up = (self.weights * entry.fn(vals)).sum()
                vals[i][index] = value[index] - h
                down = (self.weights * entry.fn(vals)).sum()
                g[index] = (up - down) / (2 * h)
            grads.append(g)
        return grads

    def _grads(self):
        return [np.zeros(SHAPE) if p.grad is None else p.grad.data.copy() for p in self.params]

    def _loss(self, entry):
        return (entry.tensor * mg.tensor(self.weights)).sum()

    # -- rules -------------------------------------------------------------------------------
    @initialize(a=mst.arrays(shape=SHAPE, bound=1.5), b=mst.arrays(shape=SHAPE, bound=1.5))
    def start(self, a, b):
        self._add_param(a)
        self._add_param(b)

    @precondition(lambda self: len(self.params) < 3)
    @rule(value=mst.arrays(shape=SHAPE, bound=1.5))
    def new_param(self, value):
        self._add_param(value)

    @precondition(lambda self: len(self.entries) < MAX_ENTRIES)
    @rule(data=st.data(), name=st.sampled_from(sorted(UNARY)), quiet=st.booleans())
    def unary(self, data, name, quiet):
        x = data.draw(st.sampled_from(self.entries[-4:]))
        if not self._usable(x):
            return
        op, np_op = UNARY[name]
        with mg.no_grad() if quiet else mg.enable_grad():
            y = op(x.tensor)
        self.entries.append(self._combine(y, [x], np_op))

    @precondition(lambda self: len(self.entries) < MAX_ENTRIES)
    @rule(data=st.data(), name=st.sampled_from(sorted(BINARY)), quiet=st.booleans())
    def binary(self, data, name, quiet):
        a = data.draw(st.sampled_from(self.entries))
        b = data.draw(st.sampled_from(self.entries))
        if not (self._usable(a) and self._usable(b)):
            return
        op, np_op = BINARY[name]
        with mg.no_grad() if quiet else mg.enable_grad():
            y = op(a.tensor, b.tensor)
        self.entries.append(self._combine(y, [a, b], np_op))

    @precondition(lambda self: len(self.entries) < MAX_ENTRIES)
    @rule(data=st.data(), names=st.lists(st.sampled_from(sorted(UNARY) + sorted(BINARY)),
                                         min_size=2, max_size=5))
    def chain(self, data, names):
        """Several ops in a row in grad mode: deep graphs sharing subgraphs."""
        x = self.entries[-1]
        for name in names:
            if not self._usable(x):
                break
            if name in UNARY:
                op, np_op = UNARY[name]
                y = op(x.tensor)
                x = self._combine(y, [x], np_op)
            else:
                other = data.draw(st.sampled_from(self.entries))
                if not self._usable(other):
                    break
                op, np_op = BINARY[name]
                y = op(x.tensor, other.tensor)
                x = self._combine(y, [x, other], np_op)
        if x is not self.entries[-1]:
            self.entries.append(x)

    @rule(data=st.data(), retain=st.booleans(), use_grad=st.booleans())
    def backward(self, data, retain, use_grad):
        built = [e for e in self.entries if e.leaf_index is None and e.tensor.requires_grad]
        entry = data.draw(st.sampled_from(built[-3:] + self.entries[-1:]))   # mostly graphs
        before = self._grads()
        loss = self._loss(entry)
        if not entry.tensor.requires_grad:
            try:
                loss.backward()
            except RuntimeError as error:
                assert "does not require grad" in str(error)
            else:
                raise AssertionError("backward of a tensor that does not require grad passed")
            return
        # A stale graph must fail a backward; mg.grad runs only the nodes that lead to the
        # parameters (as PyTorch), so there it may succeed, and must then give the right numbers
        stale = self._stale(entry)
        must_fail = (stale and not use_grad) or bool(entry.ops & self.freed)
        may_fail = bool(entry.ops & self.unknown) or (stale and use_grad)
        try:
            if use_grad:
                used = [p for p in self.params]
                result = mg.grad(loss, used, retain_graph=retain, allow_unused=True)
            else:
                loss.backward(retain_graph=retain)
        except RuntimeError as error:
            message = str(error)
            assert must_fail or may_fail, f"unexpected error: {message}"
            assert ("backward through the graph a second time" in message
                    or "modified by an in-place operation" in message), message
            for got, want in zip(self._grads(), before):
                np.testing.assert_array_equal(got, want)      # a failed backward changes nothing
            if not retain:
                self.unknown |= entry.ops - self.freed
            return
        assert not must_fail, "a stale or freed graph was differentiated without an error"
        numerical = self._numerical(entry)
        if use_grad:
            for g, num in zip(result, numerical):
                got = np.zeros(SHAPE) if g is None else g.data
                np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-6)
            for got, want in zip(self._grads(), before):
                np.testing.assert_array_equal(got, want)      # mg.grad leaves .grad alone
        else:
            for i, num in enumerate(numerical):
                self.expected[i] = self.expected[i] + num
        if not retain:
            self.freed |= entry.ops
            self.unknown -= entry.ops

    @rule()
    def zero_grad(self):
        for i, p in enumerate(self.params):
            p.grad = None
            self.expected[i] = np.zeros(SHAPE)

    @rule(data=st.data(), lr=st.sampled_from([0.05, 0.1]))
    def sgd_step(self, data, lr):
        i = data.draw(st.integers(0, len(self.params) - 1))
        p = self.params[i]
        step = np.ones(SHAPE) if p.grad is None else p.grad.data
        step = np.clip(step, -5, 5)
        with mg.no_grad():
            p.sub_(mg.tensor(step), alpha=lr)
        self.values[i] = self.values[i] - lr * step
        np.testing.assert_allclose(p.data, self.values[i], rtol=1e-12)

    @rule(data=st.data())
    def in_place_on_a_parameter_in_grad_mode_is_refused(self, data):
        p = data.draw(st.sampled_from(self.params))
        value, version = p.data.copy(), p._version
        try:
            p.mul_(2.0)
        except RuntimeError as error:
            assert "leaf tensor that requires grad" in str(error)
        else:
            raise AssertionError("in-place update of a parameter in grad mode passed")
        np.testing.assert_array_equal(p.data, value)
        assert p._version == version

    @rule(data=st.data())
    def scale_in_place_quietly(self, data):
        entry = data.draw(st.sampled_from(self.entries))
        if entry.leaf_index is not None:
            return                                          # that is sgd_step
        with mg.no_grad():
            entry.tensor.mul_(0.9)
        if not entry.tensor.requires_grad:
            entry.fn = self._frozen(entry)
        else:
            old = entry.fn
            entry.fn = lambda vals: 0.9 * old(vals)
        if not self._stale(entry) or not entry.tensor.requires_grad:
            np.testing.assert_allclose(entry.tensor.data, entry.fn(self.values), rtol=1e-10,
                                       atol=1e-12)

    @precondition(lambda self: len(self.entries) > 2)
    @rule(data=st.data())
    def add_in_place_recorded(self, data):
        entry = data.draw(st.sampled_from(self.entries))
        other = data.draw(st.sampled_from(self.entries))
        if entry.leaf_index is not None or entry is other or not self._usable(other):
            return
        tensor = entry.tensor
        version = tensor._version
        recorded = tensor.requires_grad or other.tensor.requires_grad
        tensor.add_(other.tensor)
        assert tensor._version == version + 1
        if not recorded:
            entry.fn = self._frozen(entry)
            return
        assert tensor.requires_grad and tensor.grad_fn is not None
        # the node that made the old value no longer has `tensor` as its output
        deps = {key: t for key, t in entry.deps.items() if key != (id(tensor), version)}
        deps.update(other.deps)
        deps[(id(other.tensor), other.tensor._version)] = other.tensor
        deps[(id(tensor), tensor._version)] = tensor
        old_fn = entry.fn            # frozen already if the old value did not require grad
        other_fn = other.fn if other.tensor.requires_grad else self._frozen(other)
        entry.fn = lambda vals: old_fn(vals) + other_fn(vals)
        entry.deps = deps
        entry.ops = entry.ops | other.ops | {next(self.op_ids)}
        if not self._stale(entry):
            np.testing.assert_allclose(tensor.data, entry.fn(self.values), rtol=1e-10, atol=1e-12)

    @invariant()
    def gradients_match_the_model(self):
        for p, want in zip(self.params, self.expected):
            got = np.zeros(SHAPE) if p.grad is None else p.grad.data
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            assert p.grad is None or p.grad.dtype == np.float64


EngineSession.TestCase.settings = settings(settings(), stateful_step_count=25)
TestEngineSession = EngineSession.TestCase
