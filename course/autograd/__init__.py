"""A compact autograd engine on NumPy with PyTorch's semantics.

    from course.autograd import Tensor
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad            # tensor([2., 4.])

Layout: tensor (Tensor), function (Function, ctx), engine (backward), and the ops, each a
Function: elementwise, reductions, shape, linalg, convolution, losses; fast_kernels holds
faster versions of some of them (see kernels.use_kernels).
"""
from course.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from course.autograd.tensor import (Tensor, default_rng, manual_seed, ones, rand, randn,
                                    tensor, zeros)
from course.autograd.function import Context, DifferentiableFunction, Function
from course.autograd.engine import backward_steps, grad, input_gradients, topological_order
from course.autograd.kernels import active_kernels, use_kernels
from course.autograd.fast_kernels import keep_freed_memory

__all__ = [
    "Tensor", "Function", "DifferentiableFunction", "Context", "grad",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "tensor", "zeros", "ones",
    "randn", "rand", "manual_seed", "default_rng", "topological_order", "backward_steps",
    "input_gradients", "use_kernels", "active_kernels", "keep_freed_memory",
]
