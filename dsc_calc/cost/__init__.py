"""The counting core: what one op costs, from its shapes and attributes alone.

``conv`` holds shapes, costs and the conv (output size by PyTorch's rule, params, MACs, the
depthwise separable and spatially separable replacements, the layer comparison); ``sweep`` the
saving over a grid; ``spatial`` whether a 2-D kernel factors as ``a·bᵀ``. Nothing here knows of
files, Typer or Rich.
"""
