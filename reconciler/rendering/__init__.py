"""Views of plans and apply progress: text, JSON and Markdown. Returns strings; the CLI
prints them."""
