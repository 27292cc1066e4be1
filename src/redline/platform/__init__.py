"""platform (see DESIGN.md section 2)."""
