"""attack (see DESIGN.md section 2)."""
