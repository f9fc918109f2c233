"""jax.jit as an optional competitor on the MLP workloads (never a dependency of minigrad).

The network is the floor's, written as pure ``jax.numpy`` functions: Linear layers with the
floor's He-normal weights (``reference.ReferenceMLP`` with the same seed, so the floor and jax
start from the same numbers), optional BatchNorm in training mode with running statistics, ReLU,
inverted Dropout with a fresh key each step, softmax cross-entropy with integer labels, and Adam
with ``torch.optim.Adam``'s formula. One ``jax.jit`` compiles the whole step (dropout masks,
forward, loss, gradients, Adam update, running statistics) and the state's buffers are donated,
so XLA updates them in place; ``step()`` waits for the results (``block_until_ready``) so the
time it takes is the time the work takes.

jax runs float32 only here: float64 needs ``jax_enable_x64``, a process-wide switch.

Threads: XLA's CPU client sizes its thread pools by the CPUs the process may run on when the
client is created; ``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false"`` did not stop its Eigen
pool from running a matmul on two threads (measured with jax 0.10.2, per-thread CPU time).
``limit_threads`` therefore creates the client while the calling thread's CPU affinity is
narrowed to ``threads`` CPUs, then gives every thread back the full set: the pools keep the
smaller size, and the OS may still move them between CPUs.
"""
from __future__ import annotations

import math
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import reference

BATCHNORM_MOMENTUM, BATCHNORM_EPS = 0.1, 1e-5       # the floor's and minigrad's
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
State = Dict[str, Any]


def available() -> bool:
    """Whether jax can be imported (a failing import counts as not installed)."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def runs(dtype: Any) -> bool:
    """Whether the jax competitor runs in ``dtype`` (float32 only, see the module's doc)."""
    return np.dtype(dtype) == np.float32


# -- threads ---------------------------------------------------------------------------------
def limit_threads(threads: int) -> str:
    """Create XLA's CPU client with its thread pools sized for ``threads`` CPUs (see the
    module's doc); returns what was done, for the machine description."""
    if sys.modules.get("jax") is not None:          # None: a blocked import, it will fail
        return "not limited (jax was imported before --threads took effect)"
    if not hasattr(os, "sched_setaffinity"):
        return "not limited (no CPU affinity on this OS)"
    allowed = os.sched_getaffinity(0)
    if threads >= len(allowed):
        return f"all {len(allowed)} CPUs (--threads {threads})"
    before = set(_thread_ids())
    os.sched_setaffinity(0, sorted(allowed)[:threads])    # 0: this thread only
    try:
        import jax
        jax.devices("cpu")                                # the client and its pools start now
    except ImportError:
        return "not limited (jax failed to import)"
    finally:
        for tid in [0, *(int(t) for t in set(_thread_ids()) - before)]:
            try:
                os.sched_setaffinity(tid, allowed)
            except OSError:                               # a thread that ended meanwhile
                pass
    return f"XLA's CPU client created under a {threads}-CPU affinity mask, so its pools " \
           f"are sized for {threads} CPU(s)"


def _thread_ids() -> List[str]:
    """This process's thread ids (Linux; empty elsewhere)."""
    try:
        return os.listdir("/proc/self/task")
    except OSError:
        return []


def xla_pool_threads() -> Optional[int]:
    """How many threads XLA's Eigen pool has (named ``tf_XLAEigen`` on Linux), if known."""
    names = []
    for tid in _thread_ids():
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names.count("tf_XLAEigen") if names else None


def describe(threads_note: Optional[str]) -> Dict[str, Any]:
    """Version and thread setting, for ``harness.machine_info``."""
    import jax
    jax.devices("cpu")                                    # the client exists from here on
    return {"version": jax.__version__, "threads": threads_note or "XLA's default",
            "xla_pool_threads": xla_pool_threads()}


# -- the network, the loss and Adam as pure functions -----------------------------------------
def init_state(workload: Any, dtype: Any = np.float32, seed: int = 0,
               params: Optional[Sequence[np.ndarray]] = None) -> State:
    """Parameters (the floor's He-normal init for ``seed``, or ``params`` in minigrad's
    order), zero Adam moments, running statistics (mean 0, variance 1), step 0, a PRNG key."""
    import jax
    import jax.numpy as jnp
    if params is None:
        params = reference.ReferenceMLP(
            workload.input_size, workload.hidden_sizes, workload.output_size,
            use_batchnorm=workload.batchnorm, dropout=workload.dropout, dtype=dtype,
            seed=seed).params()
    params = [jnp.asarray(p, dtype=dtype) for p in params]
    running = [(jnp.zeros(h, dtype), jnp.ones(h, dtype))
               for h in workload.hidden_sizes] if workload.batchnorm else []
    return {"params": params, "m": [jnp.zeros_like(p) for p in params],
            "v": [jnp.zeros_like(p) for p in params], "running": running,
            "t": jnp.zeros((), dtype), "key": jax.random.PRNGKey(seed)}


def loss_and_stats(params: List[Any], x: Any, t: Any, masks: Sequence[Any],
                   workload: Any) -> Tuple[Any, List[Tuple[Any, Any]]]:
    """The training-mode loss, and each BatchNorm's batch mean and biased variance.

    Per hidden layer: h = x W + b; [BatchNorm: γ (h − μ)/√(σ² + ε) + β]; h·[h > 0];
    [Dropout: h·mask/(1 − p)]; then z = h W + b and L = mean(log Σ exp z − z[t]).
    """
    import jax
    import jax.numpy as jnp
    h, i, stats = x, 0, []
    for layer in range(len(workload.hidden_sizes)):
        h = h @ params[i] + params[i + 1]
        i += 2
        if workload.batchnorm:
            mean = h.mean(axis=0)
            centred = h - mean
            var = (centred * centred).mean(axis=0)
            h = params[i] * (centred * jax.lax.rsqrt(var + BATCHNORM_EPS)) + params[i + 1]
            stats.append((mean, var))
            i += 2
        h = jnp.where(h > 0, h, 0)           # not maximum(h, 0): its gradient at 0 is 1/2
        if workload.dropout:
            h = h * masks[layer] * (1 / (1 - workload.dropout))
    z = h @ params[i] + params[i + 1]
    shifted = z - jax.lax.stop_gradient(z.max(axis=1, keepdims=True))
    log_sum = jnp.log(jnp.exp(shifted).sum(axis=1))
    return (log_sum - jnp.take_along_axis(shifted, t[:, None], axis=1)[:, 0]).mean(), stats


def running_update(running: List[Tuple[Any, Any]], stats: List[Tuple[Any, Any]],
                   batch: int) -> List[Tuple[Any, Any]]:
    """r_μ ← (1 − m) r_μ + m μ and r_σ² ← (1 − m) r_σ² + m σ² n/(n − 1) (unbiased)."""
    m = BATCHNORM_MOMENTUM
    return [((1 - m) * r_mean + m * mean, (1 - m) * r_var + (m * batch / (batch - 1)) * var)
            for (r_mean, r_var), (mean, var) in zip(running, stats)]


def adam_update(state: State, grads: List[Any], lr: float, eps: float = ADAM_EPS) -> State:
    """torch.optim.Adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²,
    p ← p − (lr/(1 − β₁ᵗ)) m / (√v/√(1 − β₂ᵗ) + ε), with 1 − βᵗ = −expm1(t ln β) (exact in
    float32, where 1 − 0.999 is not)."""
    import jax.numpy as jnp
    b1, b2 = ADAM_BETAS
    t = state["t"] + 1
    step_size = lr / -jnp.expm1(t * math.log(b1))
    sqrt_bc2 = jnp.sqrt(-jnp.expm1(t * math.log(b2)))
    m = [b1 * mi + (1 - b1) * g for mi, g in zip(state["m"], grads)]
    v = [b2 * vi + (1 - b2) * (g * g) for vi, g in zip(state["v"], grads)]
    params = [p - step_size * mi / (jnp.sqrt(vi) / sqrt_bc2 + eps)
              for p, mi, vi in zip(state["params"], m, v)]
    return dict(state, params=params, m=m, v=v, t=t)


def update(state: State, x: Any, t: Any, masks: Sequence[Any], workload: Any,
           lr: float = 1e-3, eps: float = ADAM_EPS) -> Tuple[State, Any, List[Any]]:
    """One training step with the given dropout keep-masks: the new state, the loss and the
    gradients (in the order of ``state["params"]``)."""
    import jax
    (loss, stats), grads = jax.value_and_grad(loss_and_stats, has_aux=True)(
        state["params"], x, t, masks, workload)
    state = adam_update(state, grads, lr, eps)
    state["running"] = running_update(state["running"], stats, x.shape[0])
    return state, loss, grads


def draw_masks(key: Any, workload: Any) -> List[Any]:
    """One Bernoulli(1 − p) keep-mask per hidden layer (none without dropout)."""
    import jax
    if not workload.dropout:
        return []
    keys = jax.random.split(key, len(workload.hidden_sizes))
    return [jax.random.bernoulli(k, 1 - workload.dropout, (workload.batch_size, h))
            for k, h in zip(keys, workload.hidden_sizes)]


def compiled_step(workload: Any, lr: float = 1e-3, eps: float = ADAM_EPS) -> Any:
    """``train(state, x, t) -> (state, loss)``: a fresh key, masks, ``update``, all under one
    ``jax.jit``; the old state's buffers are donated (XLA writes the new state into them)."""
    import jax

    def train(state: State, x: Any, t: Any) -> Tuple[State, Any]:
        key, subkey = jax.random.split(state["key"])
        state, loss, _ = update(state, x, t, draw_masks(subkey, workload), workload, lr, eps)
        return dict(state, key=key), loss
    return jax.jit(train, donate_argnums=0)


def jax_step(workload: Any, dtype: Any = np.float32, seed: int = 0) -> Any:
    """The benchmark's ``step()``: one compiled training step on the workload's fixed batch,
    waited for."""
    import jax
    import jax.numpy as jnp

    from .workloads import make_batch
    x, t = make_batch(workload, dtype, seed)
    x, t = jnp.asarray(x), jnp.asarray(t, dtype=jnp.int32)
    train = compiled_step(workload)
    state = init_state(workload, dtype, seed)

    def step() -> Any:
        nonlocal state
        state, loss = train(state, x, t)
        return jax.block_until_ready((state, loss))[1]
    return step
