"""Views of plans and apply progress: text, JSON and Markdown.

The CLI picks a view and prints what it returns; nothing in this package prints,
exits or touches the network, and every view redacts the plan before reading it.
"""

from reconciler.rendering.jsonview import plan_document, render_json
from reconciler.rendering.markdown import render_markdown
from reconciler.rendering.text import render_text

__all__ = ["plan_document", "render_json", "render_markdown", "render_text"]
