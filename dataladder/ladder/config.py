"""What every ladder kind's config shares: the schedule's growth, the time budget and the stop rule's settings, and
the `Rule` they build (by keyword). A kind's config inherits `LadderConfig` and adds its own target, first rung,
count budget and data; it redeclares a shared field only where its meaning differs (prefs' delta also sets
saturation)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_serializer

from dataladder.ladder.engine import Rule


class LadderConfig(BaseModel, extra="forbid", allow_inf_nan=False):
    growth: float = Field(2.0, gt=1, le=64, description="each rung's size over the previous one's (at most 64)")
    max_minutes: float | None = Field(None, gt=0, description="budget: minutes of stored run time (training and eval) "
                                                              "of the ladder; a resume counts finished runs")
    delta: float = Field(0.01, ge=0, le=1, description="smallest gain per doubling worth paying for (stop rule)")
    min_rungs: int = Field(4, ge=1, le=1000, description="rungs before the fit may stop the ladder")
    n_boot: int = Field(200, ge=1, le=100_000, description="posterior draws of the curve fit (at least 1,000 are used)")
    rungs: Literal["grow", "adaptive"] = Field("grow", description="grow: each rung is the last × growth; adaptive: "
                                                                   "the next rung goes where the forecast's median "
                                                                   "reaches the target, at most 4× the last rung and "
                                                                   "the budget (from the third rung; bench/RESULTS.md)")

    @model_serializer(mode="wrap")
    def _default_rungs_unsaid(self, handler):  # documents written before the option stay identical
        out = handler(self)
        if isinstance(out, dict) and self.rungs == "grow":
            out.pop("rungs", None)
        return out

    def rule(self, **kw) -> Rule:
        """The ladder's `Rule`: these fields, and the kind's own (target, start, budget, available, ...) by keyword."""
        return Rule(**{"growth": self.growth, "max_minutes": self.max_minutes, "delta": self.delta,
                       "min_rungs": self.min_rungs, "n_boot": self.n_boot, "adaptive": self.rungs == "adaptive", **kw})


def skill_of(cfg):
    """The skill a one-skill ladder config names, with its extra train prompts (`prompts_file`)."""
    from dataladder.core.errors import for_option
    from dataladder.skills import get_skill
    from dataladder.skills.spec import train_skill

    with for_option("--skill"):  # an unknown name or a bad JSONL line, named by its option
        get_skill(cfg.skill)
    with for_option("--prompts-file"):
        return train_skill(cfg.skill, cfg.prompts_file)


def format_of(cfg) -> str:
    """The config's prompt format, else its skill's target format."""
    return cfg.format or skill_of(cfg).target_format
