"""Whole networks: the JSON spec, the shipped presets, loading, the walk and the what-if redesign.

``spec`` decodes and validates a spec (msgspec, imported only when a spec is read); ``presets``
holds the shipped specs and the published figures they reproduce; ``analysis`` loads a network,
walks it with the cost core and returns the per-row report.
"""
