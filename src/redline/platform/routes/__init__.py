"""Routes, one module per audience: auth (everyone), redteam, admin, review."""
