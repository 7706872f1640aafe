"""``dsc-calc bench``: being written; registers its commands on import."""
