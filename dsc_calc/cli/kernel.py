"""``dsc-calc kernel``: being written; registers its commands on import."""
