# expect-flags: conv_forward, pool_forward
# Correct answers that hand the convolution and the pooling to course.nn.functional; the input
# gradient as a full convolution correlates with F.conv2d, which that exercise allows (no flag).

# %% conv_forward
from course.nn import functional as G


def conv2d_forward(x, w, b, stride=1, padding=0):
    out = G.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding).data
    return out, (x, w, b, stride, padding)

# %% conv_input_full
def conv_input_grad_full(dout, w):
    KH, KW = w.shape[2], w.shape[3]
    padded = np.pad(dout, [(0, 0), (0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1)])
    flipped = np.flip(w, axis=(2, 3)).swapaxes(0, 1).copy()
    return F.conv2d(Tensor(padded), Tensor(flipped)).data        # the library's correlation is allowed here

# %% pool_forward
import course.nn.functional


def max_pool_forward(x, size=2, stride=2):
    return course.nn.functional.max_pool2d(Tensor(x), size, stride).data, (x, size, stride)
