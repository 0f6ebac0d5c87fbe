"""The bureau's console: sign-in, hall tiles, drill-down to cases, a live alert feed."""
