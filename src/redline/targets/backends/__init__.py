"""Language-model backends. Import the one you need from its module, e.g.
``from redline.targets.backends.llamacpp import LlamaCppBackend``; this package imports
nothing itself, so a backend's heavy dependency (llama-cpp-python) loads only when used.
"""
