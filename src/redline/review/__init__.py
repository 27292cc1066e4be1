"""review (see DESIGN.md section 2)."""
