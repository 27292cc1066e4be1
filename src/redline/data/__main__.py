"""``python -m redline.data``: print the path of the packaged harmless-base pairs."""

from redline.data import harmless_base_pairs

print(harmless_base_pairs())
