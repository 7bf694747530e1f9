"""Result files record this process's peak memory (`peak_memory_bytes`) and a climb its time estimate."""

import json
import resource
import sys

import pytest

from dataladder.core.runtime import peak_memory


def test_peak_memory_is_bytes_of_this_process():
    m = peak_memory()
    raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert m["rss"] == (raw if sys.platform == "darwin" else raw * 1024)
    assert m["rss"] > 10 * 2**20  # a Python process with torch loaded holds more than 10 MiB
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        assert m["cuda"] is None
    else:
        assert m["cuda"] == torch.cuda.max_memory_allocated()


@pytest.mark.integration
def test_ladder_json_has_peak_memory_and_the_estimate(micro_dir, tmp_path):
    from dataladder.ladder.climb import ClimbConfig, climb
    from dataladder.ladder.estimate import estimate_climb

    cfg = ClimbConfig(models=[str(micro_dir)], skills=["add"], start=8, max_examples=8, seeds=1, eval_n=4,
                      eval_skills=["add"], n_boot=20, min_rungs=1,
                      hp={"min_steps": 2, "max_steps": 2, "batch_size": 4, "learning_rate_full": 3e-3})
    climb(cfg, tmp_path)
    doc = json.loads((tmp_path / "ladder.json").read_text())
    assert doc["peak_memory_bytes"]["rss"] > 10 * 2**20
    assert doc["estimate_seconds"] == pytest.approx(estimate_climb(cfg).seconds) and doc["estimate_seconds"] > 0


@pytest.mark.integration
def test_prefs_dpo_rl_documents_have_peak_memory(micro_dir, tmp_path):
    from dataladder.ladder.dpo import DPOConfig, dpo
    from dataladder.ladder.prefs import PrefsConfig, prefs
    from dataladder.ladder.rl import RLConfig, rl

    m = str(micro_dir)
    small = {"min_steps": 2, "max_steps": 2, "batch_size": 4}
    prefs(PrefsConfig(model=m, skill="add", start=8, max_pairs=8, seeds=1, heldout_n=8, n_boot=20, min_rungs=1, hp=small),
          tmp_path / "prefs")
    dpo(DPOConfig(model=m, skill="add", format="native", start=8, max_pairs=8, seeds=1, eval_n=4, n_boot=20, hp=small),
        tmp_path / "dpo")
    rl(RLConfig(model=m, skill="add", format="native", cold_start=0, start_steps=1, max_rollouts=16, eval_n=4,
                check_prompts=4, check_samples=4, n_boot=20, hp={"prompts_per_step": 4, "num_generations": 4}),
       tmp_path / "rl", on_rung=lambda s: None)
    for name in ("prefs", "dpo", "rl"):
        doc = json.loads((tmp_path / name / f"{name}.json").read_text())
        assert doc["peak_memory_bytes"]["rss"] > 10 * 2**20, name
    rl_doc = json.loads((tmp_path / "rl" / "rl.json").read_text())
    assert rl_doc["eval"]["n_by_format"] == {"native": 4, "exam": 4}  # eval_n items of each format
