"""Skills: registered factories that return a `Skill` (items, prompt formats, verifier).

Built in: the arithmetic family `add`, `sub`, `mul`, `div`, `mixed` (see `arithmetic.py`).
User skills come from JSONL files (see `jsonl.py`). `get_skill("mul")` or
`load_skills(["add", "my_skill.jsonl"])` resolve names and paths.
"""

from dataladder.skills.base import SKILLS, Format, Item, Skill, skill
from dataladder.skills.spec import get_skill, load_skills, resolve_skills
from dataladder.skills import arithmetic as _arithmetic  # noqa: F401  (registers the built-ins)

__all__ = ["SKILLS", "Format", "Item", "Skill", "get_skill", "load_skills", "resolve_skills", "skill"]
