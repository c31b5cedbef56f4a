# expect-flags: conv_forward, pool_forward
# Correct answers that hand the convolution and the pooling to course.nn.functional.

# %% conv_forward
from course.nn import functional as G


def conv2d_forward(x, w, b, stride=1, padding=0):
    out = G.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding).data
    return out, (x, w, b, stride, padding)

# %% pool_forward
import course.nn.functional


def max_pool_forward(x, size=2, stride=2):
    return course.nn.functional.max_pool2d(Tensor(x), size, stride).data, (x, size, stride)
