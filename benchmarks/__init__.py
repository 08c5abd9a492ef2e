"""graphnn's benchmarks: graphnn's compiled kernels side by side with NumPy, PyTorch and JAX.

Run `python -m benchmarks` (see docs/performance.md). Every workload checks each
implementation's results against NumPy before timing it.
"""
