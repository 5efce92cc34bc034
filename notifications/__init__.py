"""Who hears about what (handlers writing outbox rows), the templates, and delivery."""
