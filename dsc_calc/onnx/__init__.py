"""ONNX import: the graph of a ``.onnx`` file, its shapes and its costs, without the onnx package.

* :mod:`dsc_calc.onnx.reader` reads the graph from the protobuf bytes and skips every weight;
* :mod:`dsc_calc.onnx.shapes` infers each node's output shapes (and evaluates small integer
  tensors, such as shapes and split sizes, as they flow);
* :mod:`dsc_calc.onnx.costs` gives each node its params and MACs, one small function per op type;
* :mod:`dsc_calc.onnx.model` ties them together (:func:`import_model`, :func:`from_torch`) and
  turns the result into the rows of a network report.

Nothing here is imported by the JSON-spec path; this package file itself imports nothing.
"""
