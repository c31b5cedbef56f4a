"""A compact autograd engine on NumPy with PyTorch's semantics.

    from course.autograd import Tensor
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad            # tensor([2., 4.])
"""
from course.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from course.autograd.tensor import (Tensor, default_rng, manual_seed, ones, rand, randn,
                                    tensor, zeros)
from course.autograd.engine import grad, topological_order
from course.autograd.function import Context, Function
from course.autograd import ops
from course.autograd.memory import keep_freed_memory

keep_freed_memory()

__all__ = [
    "Tensor", "Function", "Context", "grad", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "tensor", "zeros", "ones", "randn", "rand", "manual_seed", "default_rng",
    "topological_order", "ops",
]
