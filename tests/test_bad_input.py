"""The bad-input battery: every public function and layer, fed what it cannot use, answers with a
ValueError or TypeError that names it and says what was wrong. Never an IndexError/AxisError from
NumPy's insides, never a RuntimeWarning, and never a result."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim
from minigrad.data import DataLoader

pytestmark = pytest.mark.filterwarnings("error")

NOT_DATA = {
    "None": None,
    "ragged": [[1.0, 2.0], [3.0]],
    "complex": np.ones((2, 3), dtype=complex),
    "object": np.array([object()] * 6).reshape(2, 3),
    "str": "abc",
}


def _x(*shape, dtype=np.float64):
    return mg.tensor(np.linspace(0.1, 0.9, math.prod(shape)).reshape(shape).astype(dtype),
                     requires_grad=True)


def _fails(call, op, *words):
    """``call()`` raises a plain ValueError/TypeError naming ``op`` and ``words``."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    error = info.value
    assert not isinstance(error, IndexError), f"an IndexError/AxisError leaked: {error!r}"
    message = str(error).lower().replace("_", "")
    assert op.lower().replace("_", "") in message, f"{op!r} not named in: {error}"
    for word in words:
        assert word.lower() in str(error).lower(), f"{word!r} not in: {error}"
    return error


# -- every op of minigrad.functional, fed data that cannot be a tensor -----------------------
# name -> (call with the bad value in the first tensor slot, the op's name in the message)
FUNCTIONAL = {
    "add": (lambda v: F.add(v, _x(2, 3)), "add"),
    "sub": (lambda v: F.sub(_x(2, 3), v), "sub"),
    "mul": (lambda v: F.mul(v, 2.0), "mul"),
    "div": (lambda v: F.div(_x(2, 3), v), "div"),
    "neg": (lambda v: F.neg(v), "neg"),
    "pow": (lambda v: F.pow(v, 2.0), "pow"),
    "matmul": (lambda v: F.matmul(_x(2, 3), v), "matmul"),
    "cast": (lambda v: F.cast(v, np.float32), "cast"),
    "exp": (lambda v: F.exp(v), "exp"),
    "log": (lambda v: F.log(v), "log"),
    "sqrt": (lambda v: F.sqrt(v), "sqrt"),
    "abs": (lambda v: F.abs(v), "abs"),
    "tanh": (lambda v: F.tanh(v), "tanh"),
    "sigmoid": (lambda v: F.sigmoid(v), "sigmoid"),
    "relu": (lambda v: F.relu(v), "relu"),
    "clip": (lambda v: F.clip(v, 0.0, 1.0), "clip"),
    "maximum": (lambda v: F.maximum(_x(2, 3), v), "maximum"),
    "minimum": (lambda v: F.minimum(v, _x(2, 3)), "minimum"),
    "where": (lambda v: F.where(np.ones((2, 3), bool), v, _x(2, 3)), "where"),
    "sum": (lambda v: F.sum(v), "sum"),
    "mean": (lambda v: F.mean(v, axis=0), "mean"),
    "var": (lambda v: F.var(v), "var"),
    "max": (lambda v: F.max(v, axis=1), "max"),
    "min": (lambda v: F.min(v), "min"),
    "logsumexp": (lambda v: F.logsumexp(v, axis=1), "logsumexp"),
    "softmax": (lambda v: F.softmax(v), "softmax"),
    "log_softmax": (lambda v: F.log_softmax(v), "log_softmax"),
    "reshape": (lambda v: F.reshape(v, (6,)), "reshape"),
    "transpose": (lambda v: F.transpose(v, (1, 0)), "transpose"),
    "permute": (lambda v: F.permute(v, (1, 0)), "transpose"),
    "swapaxes": (lambda v: F.swapaxes(v, 0, 1), "swapaxes"),
    "broadcast_to": (lambda v: F.broadcast_to(v, (2, 2, 3)), "broadcastto"),
    "sum_to": (lambda v: F.sum_to(v, (3,)), "sum_to"),
    "squeeze": (lambda v: F.squeeze(v), "squeeze"),
    "unsqueeze": (lambda v: F.unsqueeze(v, 0), "unsqueeze"),
    "flatten": (lambda v: F.flatten(v), "flatten"),
    "getitem": (lambda v: F.getitem(v, 0), "getitem"),
    "concatenate": (lambda v: F.concatenate([_x(2, 3), v]), "concatenate"),
    "stack": (lambda v: F.stack([v, _x(2, 3)]), "stack"),
    "affine": (lambda v: F.affine(v, _x(3, 2)), "affine"),
    "softmax_cross_entropy": (lambda v: F.softmax_cross_entropy(v, np.array([0, 1])),
                              "softmax_cross_entropy"),
    "batch_norm": (lambda v: F.batch_norm(v, None, None, training=True), "batch_norm"),
    "dropout": (lambda v: F.dropout(v, 0.5), "dropout"),
    "leaky_relu": (lambda v: F.leaky_relu(v), "leaky_relu"),
    "argmax": (lambda v: F.argmax(v, axis=1), "argmax"),
    "argmin": (lambda v: F.argmin(v), "argmin"),
    "clone": (lambda v: F.clone(v), "clone"),
    "cross_entropy": (lambda v: F.cross_entropy(v, np.array([0, 1])), "cross_entropy"),
    "mse_loss": (lambda v: F.mse_loss(v, _x(2, 3)), "mse_loss"),
    "conv2d": (lambda v: F.conv2d(v, _x(2, 3, 1, 1)), "conv2d"),
    "max_pool2d": (lambda v: F.max_pool2d(v, 2), "max_pool2d"),
    "avg_pool2d": (lambda v: F.avg_pool2d(v, 2), "avg_pool2d"),
}


def test_the_battery_covers_every_public_function():
    assert sorted(FUNCTIONAL) == sorted(F.__all__)


@pytest.mark.parametrize("kind", sorted(NOT_DATA))
@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_refuses_what_cannot_be_a_tensor(name, kind):
    call, op = FUNCTIONAL[name]
    _fails(lambda: call(NOT_DATA[kind]), op)


# -- wrong shapes, axes and indices ----------------------------------------------------------
SHAPE_ERRORS = {
    "add broadcast": (lambda: _x(2, 3) + _x(4, 5), "add", "(2, 3)", "(4, 5)"),
    "mul broadcast": (lambda: _x(2, 3) * np.ones(4), "mul", "(2, 3)"),
    "matmul inner": (lambda: _x(2, 3) @ _x(2, 3), "matmul", "(2, 3)"),
    "matmul 0-d": (lambda: _x(2, 3) @ mg.tensor(2.0), "matmul", "()"),
    "reshape size": (lambda: _x(2, 3).reshape(5), "reshape", "(5,)"),
    "reshape None": (lambda: _x(2, 3).reshape(None), "reshape", "None"),
    "transpose axes": (lambda: _x(2, 3).transpose((0, 0)), "transpose", "(0, 0)"),
    "sum axis": (lambda: _x(2, 3).sum(axis=5), "sum", "axis 5"),
    "sum axis type": (lambda: _x(2, 3).sum(axis=1.5), "sum", "1.5"),
    "mean repeated": (lambda: _x(2, 3).mean(axis=(0, 0)), "mean", "repeated"),
    "var ddof": (lambda: _x(2, 3).var(axis=0, ddof=2), "var", "ddof"),
    "softmax axis": (lambda: _x(2, 3).softmax(axis=3), "softmax", "axis 3"),
    "softmax 0-d": (lambda: F.softmax(mg.tensor(1.0)), "softmax", "0-d"),
    "getitem range": (lambda: _x(2, 3)[5], "getitem", "5"),
    "getitem ndim": (lambda: _x(2, 3)[0, 0, 0], "getitem", "too many"),
    "getitem float": (lambda: _x(2, 3)[1.5], "getitem"),
    "getitem mask": (lambda: _x(2, 3)[np.array([True, False, True])], "getitem", "boolean"),
    "broadcast_to": (lambda: _x(2, 3).broadcast_to(5), "broadcastto", "(2, 3)"),
    "sum_to": (lambda: F.sum_to(_x(2, 3), (4,)), "sum_to", "(4,)"),
    "squeeze": (lambda: _x(2, 3).squeeze(0), "squeeze", "not 1"),
    "unsqueeze": (lambda: _x(2, 3).unsqueeze(5), "unsqueeze", "5"),
    "flatten": (lambda: _x(2, 3).flatten(1, 0), "flatten", "start_axis"),
    "swapaxes": (lambda: F.swapaxes(_x(2, 3), 0, 4), "swapaxes", "4"),
    "concatenate shapes": (lambda: F.concatenate([_x(2, 3), _x(3, 3)], axis=1), "concatenate"),
    "concatenate empty": (lambda: F.concatenate([]), "concatenate", "non-empty"),
    "concatenate 0-d": (lambda: F.concatenate([mg.tensor(1.0)]), "concatenate", "0-d"),
    "stack shapes": (lambda: F.stack([_x(2, 3), _x(3, 3)]), "stack", "same shape"),
    "stack not a list": (lambda: F.stack(None), "stack", "sequence"),
    "where shapes": (lambda: F.where(np.ones((4, 4), bool), _x(2, 3), _x(2, 3)), "where"),
    "where int condition": (lambda: F.where(np.ones((2, 3), int), _x(2, 3), 0.0), "where",
                            "boolean"),
    "where ragged condition": (lambda: F.where([[True], [True, False]], _x(2, 3), 0.0),
                               "where"),
    "affine weight": (lambda: F.affine(_x(2, 3), _x(4, 2)), "affine", "4 input features"),
    "affine bias": (lambda: F.affine(_x(2, 3), _x(3, 2), _x(5)), "affine", "(5,)"),
    "cross-entropy labels": (lambda: F.softmax_cross_entropy(_x(2, 3), np.array([0, 3])),
                             "softmax_cross_entropy", "label 3"),
    "cross-entropy label shape": (lambda: F.softmax_cross_entropy(_x(2, 3), np.zeros(3, int)),
                                  "softmax_cross_entropy", "(3,)"),
    "cross-entropy ragged target": (lambda: F.softmax_cross_entropy(_x(2, 3), [[0], [1, 2]]),
                                    "softmax_cross_entropy"),
    "cross-entropy 1-d logits": (lambda: F.softmax_cross_entropy(_x(3), np.array([0])),
                                 "softmax_cross_entropy", "(N, C)"),
    "batch_norm channels": (lambda: F.batch_norm(_x(4, 3), np.zeros(2), np.ones(2)),
                            "batch_norm", "channels"),
}


@pytest.mark.parametrize("case", sorted(SHAPE_ERRORS))
def test_wrong_shapes_axes_and_indices(case):
    call, op, *words = SHAPE_ERRORS[case]
    _fails(call, op, *words)


# -- empty batches and axes ------------------------------------------------------------------
@pytest.mark.parametrize("op", ["mean", "var", "max", "min", "logsumexp"])
def test_reducing_an_empty_axis_is_refused(op):
    _fails(lambda: getattr(F, op)(mg.tensor(np.ones((0, 3))), axis=0), op, "empty")


def test_the_sum_of_nothing_is_zero_not_an_error():
    assert F.sum(mg.tensor(np.ones((0, 3)))).item() == 0.0


def test_an_empty_batch_through_a_loss_or_batchnorm_is_refused():
    _fails(lambda: nn.SoftmaxCrossEntropy()(_x(1, 3)[0:0], np.zeros(0, int)),
           "SoftmaxCrossEntropy", "empty")
    _fails(lambda: nn.BatchNorm1d(3)(mg.tensor(np.ones((0, 3), np.float32))), "BatchNorm1d")
    _fails(lambda: nn.BatchNorm1d(3)(mg.tensor(np.ones((1, 3), np.float32))), "BatchNorm1d",
           "more than 1 value")


def test_an_empty_batch_through_linear_gives_an_empty_output_as_in_pytorch():
    y = nn.Linear(3, 2)(mg.tensor(np.ones((0, 3), np.float32)))
    assert y.shape == (0, 2) and y.dtype == np.float32


# -- layers ----------------------------------------------------------------------------------
LAYERS = {
    "Linear": lambda: nn.Linear(3, 2),
    "BatchNorm1d": lambda: nn.BatchNorm1d(3),
    "ReLU": nn.ReLU,
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "LeakyReLU": nn.LeakyReLU,
    "Dropout": nn.Dropout,
    "Conv2d": lambda: nn.Conv2d(3, 2, 1),
    "MaxPool2d": lambda: nn.MaxPool2d(1),
    "AvgPool2d": lambda: nn.AvgPool2d(1),
}
BAD_LAYER_INPUTS = dict(NOT_DATA, int=np.ones((4, 3), int), bool=np.ones((4, 3), bool))


def _layer_name(layer):
    """The name a layer's errors use (Dropout reports the function it calls)."""
    return "dropout" if isinstance(layer, nn.Dropout) else type(layer).__name__


@pytest.mark.parametrize("kind", sorted(BAD_LAYER_INPUTS))
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_refuse_non_floating_input(name, kind):
    layer = LAYERS[name]()
    value = BAD_LAYER_INPUTS[kind]
    if isinstance(value, np.ndarray) and value.dtype.kind in "iub":
        value = mg.tensor(value)                 # an integer or boolean *tensor*
    _fails(lambda: layer(value), _layer_name(layer))


@pytest.mark.parametrize("layer", [nn.Linear(3, 2), nn.BatchNorm1d(3),
                                   nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)),
                                   nn.MLP(3, [4], 2)], ids=lambda m: type(m).__name__)
def test_layers_refuse_a_wrong_number_of_features_and_a_wrong_dtype(layer):
    expected = "BatchNorm1d" if isinstance(layer, nn.BatchNorm1d) else "Linear"
    _fails(lambda: layer(mg.tensor(np.ones((4, 5), np.float32))), expected, "5")
    _fails(lambda: layer(mg.tensor(np.ones((4, 3)))), expected, "float64", "float32")


LAYER_ARGUMENTS = {
    "Linear(-1, 2)": (lambda: nn.Linear(-1, 2), "Linear", "in_features"),
    "Linear(3.5, 2)": (lambda: nn.Linear(3.5, 2), "Linear", "3.5"),
    "Linear(None, 2)": (lambda: nn.Linear(None, 2), "Linear", "None"),
    "Linear(3, 0)": (lambda: nn.Linear(3, 0), "Linear", "out_features"),
    "Dropout(1.5)": (lambda: nn.Dropout(1.5), "Dropout", "1.5"),
    "Dropout(nan)": (lambda: nn.Dropout(float("nan")), "Dropout", "nan"),
    "BatchNorm1d(0)": (lambda: nn.BatchNorm1d(0), "BatchNorm1d", "num_features"),
    "BatchNorm1d(eps=nan)": (lambda: nn.BatchNorm1d(3, eps=float("nan")), "BatchNorm1d",
                             "eps"),
    "BatchNorm1d(momentum=2)": (lambda: nn.BatchNorm1d(3, momentum=2.0), "BatchNorm1d",
                                "momentum"),
    "LeakyReLU(nan)": (lambda: nn.LeakyReLU(float("nan")), "LeakyReLU", "nan"),
    "LeakyReLU('a')": (lambda: nn.LeakyReLU("a"), "LeakyReLU", "'a'"),
    "SoftmaxCrossEntropy(reduction)": (lambda: nn.SoftmaxCrossEntropy(reduction="avg"),
                                       "SoftmaxCrossEntropy", "'avg'"),
    "Sequential(3)": (lambda: nn.Sequential(3), "Sequential", "int"),
    "leaky_relu(nan)": (lambda: F.leaky_relu(_x(2), float("nan")), "leaky_relu", "nan"),
    "dropout(p=nan)": (lambda: F.dropout(_x(2), p=float("nan")), "dropout", "nan"),
    "batch_norm(eps=-1)": (lambda: F.batch_norm(_x(4, 3), None, None, training=True, eps=-1.0),
                           "batch_norm", "eps"),
    "batch_norm(momentum=nan)": (lambda: F.batch_norm(_x(4, 3), np.zeros(3), np.ones(3),
                                                      training=True, momentum=float("nan")),
                                 "batch_norm", "momentum"),
    "clip(nan)": (lambda: F.clip(_x(2), float("nan"), 1.0), "clip", "nan"),
    "clip(2, 1)": (lambda: F.clip(_x(2), 2.0, 1.0), "clip", "greater"),
    "clip()": (lambda: F.clip(_x(2)), "clip", "at least one"),
}


@pytest.mark.parametrize("case", sorted(LAYER_ARGUMENTS))
def test_bad_layer_and_op_arguments(case):
    call, op, *words = LAYER_ARGUMENTS[case]
    _fails(call, op, *words)


# -- optimizers, schedulers, data ------------------------------------------------------------
OPTIMIZERS = ["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam", "AdamW"]


@pytest.mark.parametrize("lr", [-1.0, float("nan"), None, "0.1"], ids=repr)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_refuse_a_bad_learning_rate(name, lr):
    params = [mg.tensor(np.ones(3), requires_grad=True)]
    _fails(lambda: getattr(optim, name)(params, lr=lr), name, "learning rate")


@pytest.mark.parametrize("params", [None, [], [np.ones(3)], [mg.tensor([1, 2])]],
                         ids=["None", "empty", "ndarray", "int tensor"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_refuse_what_is_not_a_parameter_list(name, params):
    _fails(lambda: getattr(optim, name)(params), name)


OPTIMIZER_ARGUMENTS = {
    "Adam betas": (lambda p: optim.Adam(p, betas=(1.0, 0.9)), "Adam", "beta"),
    "Adam betas length": (lambda p: optim.Adam(p, betas=(0.9,)), "Adam", "betas"),
    "Adam eps": (lambda p: optim.Adam(p, eps=-1.0), "Adam", "epsilon"),
    "Adam weight_decay nan": (lambda p: optim.Adam(p, weight_decay=float("nan")), "Adam",
                              "weight_decay"),
    "SGD momentum": (lambda p: optim.SGD(p, momentum=-1.0), "SGD", "momentum"),
    "SGD momentum nan": (lambda p: optim.SGD(p, momentum=float("nan")), "SGD", "momentum"),
    "RMSprop alpha": (lambda p: optim.RMSprop(p, alpha=1.5), "RMSprop", "alpha"),
    "StepLR step_size": (lambda p: optim.lr_scheduler.StepLR(optim.SGD(p, lr=0.1), 0),
                         "StepLR", "step_size"),
    "StepLR gamma nan": (lambda p: optim.lr_scheduler.StepLR(optim.SGD(p, lr=0.1), 1,
                                                             gamma=float("nan")),
                         "StepLR", "gamma"),
    "StepLR optimizer": (lambda p: optim.lr_scheduler.StepLR(None, 1), "StepLR", "Optimizer"),
    "Cosine T_max": (lambda p: optim.lr_scheduler.CosineAnnealingLR(optim.SGD(p, lr=0.1), 0),
                     "CosineAnnealingLR", "T_max"),
    "clip_grad_norm_ nan": (lambda p: nn.utils.clip_grad_norm_(p, float("nan")),
                            "clip_grad_norm_", "max_norm"),
    "clip_grad_norm_ None": (lambda p: nn.utils.clip_grad_norm_(None, 1.0), "clip_grad_norm_"),
    "DataLoader ragged": (lambda p: DataLoader([[1], [1, 2]], np.ones(2), batch_size=1),
                          "DataLoader", "rectangular"),
    "DataLoader batch 0": (lambda p: DataLoader(np.ones((4, 2)), np.ones(4), batch_size=0),
                           "DataLoader", "batch_size"),
    "DataLoader batch nan": (lambda p: DataLoader(np.ones((4, 2)), np.ones(4),
                                                  batch_size=float("nan")),
                             "DataLoader", "batch_size"),
    "DataLoader rows": (lambda p: DataLoader(np.ones((4, 2)), np.ones(3), batch_size=2),
                        "DataLoader", "rows"),
    "DataLoader None": (lambda p: DataLoader(None, None, batch_size=2), "DataLoader"),
    "init normal_ std": (lambda p: nn.init.normal_(mg.zeros(2, 2), std=-1.0), "normal_", "std"),
    "init on None": (lambda p: nn.init.normal_(None), "init", "NoneType"),
    "init uniform_ bounds": (lambda p: nn.init.uniform_(mg.zeros(2, 2), 1.0, 0.0), "uniform_"),
    "init fan_in": (lambda p: nn.init.he_normal_(mg.zeros(3)), "fan_in", "(3,)"),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_ARGUMENTS))
def test_bad_optimizer_scheduler_data_and_init_arguments(case):
    call, op, *words = OPTIMIZER_ARGUMENTS[case]
    _fails(lambda: call([mg.tensor(np.ones(3), requires_grad=True)]), op, *words)


# -- tensors, factories and the engine -------------------------------------------------------
ENGINE = {
    "tensor ragged": (lambda: mg.tensor([[1, 2], [3]]), "tensor", "list"),
    "tensor None": (lambda: mg.tensor(None), "tensor", "object"),
    "tensor complex": (lambda: mg.tensor(1j), "tensor", "complex"),
    "tensor str": (lambda: mg.tensor("a"), "tensor"),
    "zeros negative": (lambda: mg.zeros(-1), "zeros", "negative"),
    "zeros None": (lambda: mg.zeros(None), "zeros", "None"),
    "zeros float": (lambda: mg.zeros(2.5), "zeros", "2.5"),
    "zeros object dtype": (lambda: mg.zeros(2, dtype=object), "tensor", "object"),
    "ones negative": (lambda: mg.ones(2, -3), "ones", "negative"),
    "full None": (lambda: mg.full((2,), None), "full", "None"),
    "full negative": (lambda: mg.full(-1, 1.0), "full", "negative"),
    "randn negative": (lambda: mg.randn(-1), "randn", "negative"),
    "rand None": (lambda: mg.rand(None), "rand", "None"),
    "arange None": (lambda: mg.arange(None), "arange", "None"),
    "arange step 0": (lambda: mg.arange(0, 5, 0), "arange", "step"),
    "cast object": (lambda: _x(2).astype(object), "cast", "object"),
    "cast complex": (lambda: _x(2).astype(complex), "cast", "complex"),
    "cast unknown": (lambda: _x(2).astype("nope"), "cast", "nope"),
    "requires_grad int": (lambda: mg.tensor([1, 2], requires_grad=True), "requires_grad",
                          "int64"),
    "item of many": (lambda: _x(2, 3).item(), "item", "(2, 3)"),
    "grad assigned shape": (lambda: setattr(_x(2, 3), "grad", mg.ones(5)), "grad", "(5,)"),
    "backward gradient shape": (lambda: (_x(2, 3) * 2).backward(np.ones(5)), "backward",
                                "(5,)"),
    "backward ragged gradient": (lambda: (_x(2, 3) * 2).backward([[1], [2, 3]]), "backward"),
    "grad outputs None": (lambda: mg.grad(None, _x(2)), "grad", "NoneType"),
    "grad inputs int": (lambda: mg.grad(_x(2).sum(), [3]), "grad", "requires grad"),
    "grad grad_outputs shape": (lambda: mg.grad(_x(2, 3) * 2, _x(2, 3), grad_outputs=mg.ones(5)),
                                "backward", "(5,)"),
    "gradcheck float32": (lambda: mg.gradcheck(lambda t: t * 2, (_x(2, dtype=np.float32),)),
                          "gradcheck", "float64"),
    "gradcheck NaN": (lambda: mg.gradcheck(lambda t: t * 2,
                                           (mg.tensor([np.nan, 1.0], requires_grad=True),)),
                      "gradcheck", "NaN"),
    "gradcheck not a function": (lambda: mg.gradcheck(None, (_x(2),)), "gradcheck",
                                 "function"),
    "manual_seed str": (lambda: mg.manual_seed("a"), "manual_seed", "'a'"),
    "manual_seed negative": (lambda: mg.manual_seed(-1), "manual_seed", "-1"),
    "add_ shape": (lambda: mg.ones(2).add_(mg.ones(3)), "add_", "(3,)"),
    "mul_ None": (lambda: mg.ones(2).mul_(None), "mul_", "NoneType"),
    "compare shapes": (lambda: _x(2, 3) < _x(4), "less", "(2, 3)"),
    "save not a dict": (lambda: mg.save(None, "never.npz"), "save", "dict"),
    "save object array": (lambda: mg.save({"a": [np.array([None])]}, "never.npz"), "save",
                          "'a'", "object"),
    "save object": (lambda: mg.save({"a": {"b": object()}}, "never.npz"), "save", "['b']",
                    "object"),
    "save key": (lambda: mg.save({(1,): np.ones(2)}, "never.npz"), "save", "key", "(1,)"),
    "save key float": (lambda: mg.save({1.5: np.ones(2)}, "never.npz"), "save", "key", "1.5"),
    "save path": (lambda: mg.save({"a": np.ones(2)}, None), "save", "path"),
    "load path": (lambda: mg.load(None), "load", "path"),
    "load_state_dict not a dict": (lambda: nn.Linear(2, 2).load_state_dict(None),
                                   "load_state_dict", "dict"),
    "load_state_dict ragged": (lambda: nn.Linear(2, 2).load_state_dict(
        {"weight": [[1], [1, 2]], "bias": np.zeros(2)}), "load_state_dict", "weight"),
    "Module.to int": (lambda: nn.Linear(2, 2).to(np.int64), "Linear.to", "int64"),
}


@pytest.mark.parametrize("case", sorted(ENGINE))
def test_tensors_factories_and_engine(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call, op, *words = ENGINE[case]
    _fails(call, op, *words)
    assert not (tmp_path / "never.npz").exists()


def test_a_failed_op_leaves_its_inputs_alone():
    x = _x(2, 3)
    before = x.data.copy()
    with pytest.raises(ValueError):
        F.matmul(x, _x(2, 3))
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None and x._version == 0


@pytest.mark.parametrize("call, op, words", [
    (lambda: F.affine(_x(2, 3), _x(3, 3), [0.0, 0.0, 0.0]), "affine", ["floating tensor",
                                                                      "list"]),
    (lambda: F.batch_norm(_x(4, 3), np.zeros(3), None, training=True), "batch_norm",
     ["running_mean and running_var"]),
    (lambda: F.batch_norm(_x(4, 3), [0.0] * 3, [1.0] * 3), "batch_norm", ["ndarray", "list"]),
    (lambda: F.batch_norm(_x(4, 3), None, None, eps="a"), "batch_norm", ["eps", "number"]),
    (lambda: F.batch_norm(_x(4, 3), None, None, [1.0] * 3, [0.0] * 3, training=True),
     "batch_norm", ["weight", "floating tensor"]),
])
def test_layer_functions_name_themselves_for_lists_none_and_strings(call, op, words):
    _fails(call, op, *words)


def test_an_empty_batch_of_images_goes_through_linear():
    layer = nn.Linear(4, 3, dtype=np.float64)
    x = mg.tensor(np.zeros((0, 2, 2)), requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 2) and layer.bias.grad.shape == (3,)
    np.testing.assert_array_equal(layer.weight.grad.data, np.zeros((4, 3)))


def test_float_labels_get_a_hint_that_labels_must_be_integers():
    _fails(lambda: F.softmax_cross_entropy(_x(4, 3), np.array([0.0, 1.0, 2.0, 1.0])),
           "softmax_cross_entropy", "shape (4, 3)", "labels must be integers")
