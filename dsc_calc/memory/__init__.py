"""Memory traffic and the roofline model: bytes moved, arithmetic intensity, predicted time.

``traffic`` is the model of one kernel (ShuffleNetV2's memory access cost, dtype sizes, machine
profiles and the roofline); ``layer`` and ``network`` apply it to a layer comparison and to a
network's rows; ``profiles`` reads and writes machine profiles (the shipped examples sit in
``profiles/``).
"""
