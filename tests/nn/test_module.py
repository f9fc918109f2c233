"""Module, Parameter, Sequential and ModuleList: registration, traversal, modes, dtype, state
dicts and forward hooks."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))
        self.bn = nn.BatchNorm1d(4)
        self.register_buffer("count", np.zeros(2, dtype=np.float32))

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


def test_parameter_is_a_floating_leaf_tensor():
    p = nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.is_leaf
    t = mg.tensor([1.0, 2.0]) * 3
    q = nn.Parameter(t)
    assert q.data is t.data and q.grad_fn is None
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))
    assert type(p * 2) is mg.Tensor
    assert repr(p).startswith("Parameter containing:")


def test_registration_order_and_names():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    assert names == ["scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias"]
    assert [p for p in block.parameters()] == [p for _, p in block.named_parameters()]
    assert [name for name, _ in block.named_children()] == ["fc", "bn"]
    assert [type(m).__name__ for m in block.modules()] == ["Block", "Linear", "BatchNorm1d"]
    assert sorted(name for name, _ in block.named_buffers()) == [
        "bn.num_batches_tracked", "bn.running_mean", "bn.running_var", "count"]
    # reassigning a plain value to a parameter name is refused; None is allowed
    with pytest.raises(TypeError, match="parameter 'scale'"):
        block.scale = np.ones(4)
    del block.scale
    assert "scale" not in dict(block.named_parameters())


def test_shared_parameter_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2


def test_assigning_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\)\.__init__\(\) first"):
        Bad()


def test_train_eval_recursive():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad():
    model = nn.Sequential(nn.Linear(3, 2))
    x = mg.randn(4, 3)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) and p.grad.dtype == p.dtype for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_tree():
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Sequential(nn.Dropout(0.2)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=100, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.2)\n"
        "  )\n"
        ")")


def test_to_dtype_converts_parameters_and_float_buffers():
    block = Block()
    assert block.double() is block
    assert all(p.dtype == np.float64 for p in block.parameters())
    assert block.bn.running_mean.dtype == np.float64
    assert block.bn.num_batches_tracked.dtype == np.int64
    out = block(mg.tensor(np.ones((2, 3))))
    assert out.dtype == np.float64
    block.float()
    assert all(p.dtype == np.float32 for p in block.parameters())
    with pytest.raises(TypeError, match="floating"):
        block.to(np.int32)


def test_state_dict_round_trip_is_bit_exact():
    mg.manual_seed(1)
    a, b = Block(), Block()
    a.train()
    a(mg.randn(5, 3))                 # move the running statistics away from their start
    state = a.state_dict()
    assert list(state) == ["scale", "count", "fc.weight", "fc.bias", "bn.weight", "bn.bias",
                           "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["fc.weight"][0, 0] = 123.0  # a copy: the model is unchanged
    assert a.fc.weight.data[0, 0] != 123.0
    state = a.state_dict()
    result = b.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in b.state_dict().items():
        assert value.dtype == state[key].dtype
        assert np.array_equal(value, state[key])
    # Tensors are accepted too
    b.load_state_dict({k: mg.tensor(v) for k, v in state.items()})
    assert np.array_equal(b.fc.weight.data, a.fc.weight.data)


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    state = dict(before)
    del state["0.bias"]
    state["extra"] = np.zeros(1)
    state["0.weight"] = np.zeros((2, 3), dtype=np.float32)
    state["1.running_mean"] = np.zeros(2)  # valid, but must not be applied
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "missing keys: ['0.bias']" in message
    assert "unexpected keys: ['extra']" in message
    assert "size mismatch for 0.weight: expected shape (3, 2), got (2, 3)" in message
    for key, value in model.state_dict().items():
        assert np.array_equal(value, before[key])
    result = model.load_state_dict({"0.weight": np.ones((3, 2)), "extra": 1.0}, strict=False)
    assert result.unexpected_keys == ["extra"] and "0.bias" in result.missing_keys
    assert np.all(model[0].weight.data == 1) and model[0].weight.dtype == np.float32


def test_load_state_dict_refuses_unsafe_dtype():
    model = nn.BatchNorm1d(2)
    state = model.state_dict()
    state["num_batches_tracked"] = np.array(1.5)
    with pytest.raises(ValueError, match="dtype mismatch for num_batches_tracked"):
        model.load_state_dict(state)


def test_forward_hook_sees_inputs_and_may_replace_output():
    layer = nn.Linear(3, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out)))
    x = mg.randn(4, 3)
    y = layer(x)
    assert seen[0][0] is layer and seen[0][1] == (x,) and seen[0][2] is y
    replace = layer.register_forward_hook(lambda m, inputs, out: out * 0)
    assert np.all(layer(x).data == 0)
    handle.remove()
    replace.remove()
    layer(x)
    assert len(seen) == 2
    assert not np.all(layer(x).data == 0)


def test_sequential_and_module_list():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and model[0] is layers[0] and model[-1] is layers[2]
    assert list(model) == layers
    assert isinstance(model[1:], nn.Sequential) and list(model[1:]) == layers[1:]
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    x = mg.randn(4, 2)
    expected = layers[2](layers[1](layers[0](x)))
    assert np.array_equal(model(x).data, expected.data)
    assert nn.Sequential(layers)[2] is layers[2]
    assert type(nn.ModuleList(layers)[:2]) is nn.ModuleList
    items = nn.ModuleList(layers[:1])
    items.append(layers[2]).extend([nn.Tanh()])
    assert len(items) == 3 and len(list(items.parameters())) == 4
    with pytest.raises(TypeError, match="expected a Module"):
        items.append(np.zeros(2))


def test_reassigning_a_parameter_or_a_layer_keeps_its_place_in_the_order():
    bn = nn.BatchNorm1d(3)
    bn.weight = nn.Parameter(np.full(3, 2.0, np.float32))      # e.g. a pretrained γ
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(bn.state_dict())[:2] == ["weight", "bias"]      # optimizer ids follow this
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    setattr(seq, "0", nn.Linear(2, 3))
    assert list(seq._modules) == ["0", "1", "2"]
    assert seq(mg.tensor(np.ones((4, 2), np.float32))).shape == (4, 1)   # the forward order


def test_apply_visits_every_module_children_first_and_children_lists_a_shared_one_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Sequential(nn.Linear(2, 1)))
    assert [type(m).__name__ for m in model.children()] == ["Linear", "ReLU", "Sequential"]
    visited = []
    assert model.apply(visited.append) is model
    assert [type(m).__name__ for m in visited] == ["Linear", "ReLU", "Linear", "Sequential",
                                                   "Sequential"]
    assert visited[0] is shared and visited[-1] is model


def test_apply_refuses_what_cannot_be_called():
    with pytest.raises(TypeError, match="Sequential.apply: fn must be callable, got int"):
        nn.Sequential(nn.ReLU()).apply(5)
