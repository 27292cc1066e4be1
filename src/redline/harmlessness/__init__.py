"""harmlessness (see DESIGN.md section 2)."""
