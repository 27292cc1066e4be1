"""The built-in backend plugins: light declarations that import their backend on build."""
