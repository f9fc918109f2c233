"""One representative configuration of each optimizer (and of its options), for the tests."""
import pytest

from minigrad import optim

CONFIGS = [
    pytest.param(lambda ps: optim.SGD(ps, lr=0.1), id="SGD"),
    pytest.param(lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                      weight_decay=1e-2), id="SGD-nesterov-decay"),
    pytest.param(lambda ps: optim.SGD(ps, lr=0.05, momentum=0.5, dampening=0.3),
                 id="SGD-dampening"),
    pytest.param(lambda ps: optim.Momentum(ps, lr=0.05, momentum=0.9), id="Momentum"),
    pytest.param(lambda ps: optim.AdaGrad(ps, lr=0.5, initial_accumulator_value=0.1,
                                          weight_decay=1e-3), id="AdaGrad"),
    pytest.param(lambda ps: optim.RMSprop(ps, lr=0.05), id="RMSprop"),
    pytest.param(lambda ps: optim.RMSprop(ps, lr=0.02, momentum=0.5, centered=True,
                                          weight_decay=1e-3), id="RMSprop-centered-momentum"),
    pytest.param(lambda ps: optim.Adam(ps, lr=0.05), id="Adam"),
    pytest.param(lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True, weight_decay=1e-2),
                 id="Adam-amsgrad-decay"),
    pytest.param(lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.01), id="AdamW"),
]
