"""llama-cpp-python's OpenAI-compatible server, with llama.cpp's CPU kernels loaded first.

Why: Redline's llama.cpp build loads its CPU kernels at run time (one variant per x86
level, see ``redline.targets.cpu``), and llama-cpp-python's own ``Llama`` class and
server load none ("no backends are loaded"). This entry point self-checks and loads the
variant Redline chooses, then hands over to ``llama_cpp.server`` with the same arguments:

    python -m redline.targets.backends.llama_server --model FILE.gguf --port 8080
"""

from __future__ import annotations

import runpy

from redline.targets.backends.native import init_backend

if __name__ == "__main__":
    init_backend()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
