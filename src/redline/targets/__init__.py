"""targets (see DESIGN.md section 2)."""
