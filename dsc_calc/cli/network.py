"""``dsc-calc network``: being written; registers its commands on import."""
