"""Write docs/rules.md from the rule table in hallwatch/rules.py (run after editing it)."""

from __future__ import annotations

from pathlib import Path

from hallwatch import rules

DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"

if __name__ == "__main__":
    DOC.write_text(rules.as_markdown())
    print(f"wrote {DOC} ({len(rules.RULES)} rules)")
