"""``dsc-calc sweep``: being written; registers its commands on import."""
