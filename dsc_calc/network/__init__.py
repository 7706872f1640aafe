"""Whole networks: the JSON spec, the shipped presets, loading, the walk and the what-if redesign.

``spec`` decodes and validates a spec (msgspec, imported only when a spec is read); ``presets``
holds the shipped specs and the published figures they reproduce; ``load`` reads a spec within
its limits and applies ``width`` scaling; ``walk`` unrolls it into costed rows; ``report`` is the
plain-data result and ``redesign`` the what-if.
"""
