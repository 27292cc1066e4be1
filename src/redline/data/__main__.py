"""``python -m redline.data``: print the path of the packaged harmless-base pairs."""

from redline.data import harmless_base_pairs

if __name__ == "__main__":  # importing the module (e.g. to check imports) prints nothing
    print(harmless_base_pairs())
