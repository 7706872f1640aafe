"""Presentation: plain-data tables, the one renderer, and the JSON contracts.

``tabular`` is the table model every report hands over; ``render`` draws it as a Rich table, JSON,
CSV or Markdown; ``contracts`` types every JSON document (and prints its JSON Schema).
"""
