"""ODE integrators on torch tensors, shared by the REMODEL packages.

Generic ODEs ``y' = f(t, y)`` with :func:`odeint`: explicit Euler, Heun, classical RK4 (fixed steps) and adaptive
Dormand–Prince 5(4) with FSAL, PI step-size control and exact evaluation counts. Hamiltonian systems
``q' = dH/dp, p' = -dH/dq`` with :func:`hamiltonian_odeint`: symplectic Euler, Störmer–Verlet, Yoshida's
fourth-order composition (explicit, for separable ``H``), implicit midpoint and generalised Störmer–Verlet
(implicit, for any ``H``, e.g. a learned network via :func:`hamiltonian_vector_field`). Tensors of any shape,
float32/float64, any device; autograd flows through every method.

Examples
--------
>>> import torch
>>> from remodel_core.integrate import odeint, hamiltonian_odeint, hamiltonian_vector_field
>>> t = torch.linspace(0, 1, 5, dtype=torch.float64)
>>> odeint(lambda t, y: -y, torch.ones(3, dtype=torch.float64), t, method="dopri5").shape
torch.Size([5, 3])
>>> grad_H = hamiltonian_vector_field(lambda q, p: 0.5 * p**2 - torch.cos(q))   # pendulum
>>> qs, ps = hamiltonian_odeint(grad_H, torch.tensor([1.0]), torch.tensor([0.0]), t.float(), method="yoshida4")
>>> qs.shape
torch.Size([5, 1])
"""

from ._adaptive import dopri5_step
from ._explicit import euler_step, heun_step, rk4_step
from ._implicit import implicit_midpoint_step, stormer_verlet_implicit_step
from ._odeint import EXPLICIT_SYMPLECTIC, METHODS, SYMPLECTIC_METHODS, hamiltonian_odeint, odeint
from ._symplectic import hamiltonian_vector_field, symplectic_euler_step, verlet_step, yoshida4_step

__all__ = [
    "EXPLICIT_SYMPLECTIC",
    "METHODS",
    "SYMPLECTIC_METHODS",
    "dopri5_step",
    "euler_step",
    "hamiltonian_odeint",
    "hamiltonian_vector_field",
    "heun_step",
    "implicit_midpoint_step",
    "odeint",
    "rk4_step",
    "stormer_verlet_implicit_step",
    "symplectic_euler_step",
    "verlet_step",
    "yoshida4_step",
]
