"""campaign (see DESIGN.md section 2)."""
