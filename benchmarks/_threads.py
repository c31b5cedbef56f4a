"""Thread settings shared by the benchmark scripts."""
import os
import sys


def add_threads_option(parser):
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="BLAS threads for numpy and torch alike (1 is steadier on a busy machine)")


def use_threads(n):
    """n BLAS threads for numpy, and for PyTorch if this process has imported it; a note
    when this machine's OpenBLAS overrides are still set."""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        print("threadpoolctl missing: numpy's BLAS keeps its default thread count")
    if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
        print("note: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set; numpy's GEMM runs at about half "
              "speed. Run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`.")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
