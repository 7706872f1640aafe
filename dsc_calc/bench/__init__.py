"""Real timings on this CPU: NumPy conv kernels, the optional numba depthwise kernel, the timer.

``kernels`` plans and runs each conv in NHWC; ``numba_kernels`` is the compiled depthwise loop of
the ``fast`` extra; ``run`` times a layer or a network's convs and reports the measured saving.
NumPy is imported only by these modules, and only when a benchmark runs.
"""
