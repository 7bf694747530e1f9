"""Bad input, class by class: one line, exit code 2, before any model is loaded, nothing written. And valid but
unusual input (BOM, CRLF, JSON arrays, a huge line) accepted."""

import json
import os

import pytest
from typer.testing import CliRunner

from dataladder.cli.main import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    items = [{"skill": "caps", "split": "eval" if i < 4 else "train", "prompt": f"Capital of land {i}?",
              "completion": f"City {i}"} for i in range(12)]
    (d / "tasks.jsonl").write_text("".join(json.dumps(x) + "\n" for x in items))
    (d / "train.jsonl").write_text("".join(json.dumps({"messages": [{"role": "user", "content": x["prompt"]},
                                                                    {"role": "assistant", "content": x["completion"]}]})
                                           + "\n" for x in items[4:]))
    (d / "empty.jsonl").write_text("")
    (d / "truncated.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "compl')
    (d / "latin1.jsonl").write_bytes('{"prompt": "caf\xe9", "completion": "x"}\n'.encode("latin-1"))
    (d / "wrongtype.jsonl").write_text('{"prompt": 7, "completion": "b"}\n')
    (d / "collide.jsonl").write_text('{"skill": "mul", "prompt": "2*3=", "completion": "6"}\n')
    (d / "nomodel").mkdir()
    (d / "afile").write_text("x")
    (d / "plan.yaml").write_text("model: tiny-arith\nclimbs: [{name: a, seeds: 0}]\n")
    (d / "empty_plan.yaml").write_text("# nothing yet\n\n")
    (d / "utf16_plan.yaml").write_bytes("model: tiny-arith\n".encode("utf-16"))
    (d / "nul_plan.yaml").write_bytes(b"model: tiny-arith\nclimbs: [{name: a\x00}]\n")
    (d / "list_plan.yaml").write_text("- model: tiny-arith\n")
    (d / "twins_plan.yaml").write_text("climbs: [{name: x}, {name: x, method: lora}]\n")
    (d / "escape_plan.yaml").write_text("climbs: [{name: ../../elsewhere}]\n")
    (d / "skill_plan.yaml").write_text("climbs: [{name: a, skills: [add, nosuch]}]\n")
    (d / "growth_plan.yaml").write_text("climbs: [{name: a, growth: .inf}]\n")
    (d / "empty_array.json").write_text("[]\n")
    (d / "blank.jsonl").write_text("\n   \n\n")
    (d / "colon.jsonl").write_text('{"skill": "my:task", "prompt": "p", "completion": "c"}\n')
    (d / "case.jsonl").write_text('{"skill": "Mixed", "prompt": "p", "completion": "c"}\n')
    (d / "adir").mkdir()
    (d / "ok.py").write_text("print(1)\n")
    (d / "t_ok.py").write_text("assert True\n")
    (d / "points.csv").write_text("n,value\n20,0.3\n40,0.4\n80,0.5\n")
    os.link(d / "tasks.jsonl", d / "hard.jsonl")  # a hard link to the input: the noisy copy would replace it
    (d / "alleval.jsonl").write_text("".join(json.dumps({"skill": "ev", "split": "eval", "prompt": f"q{i}",
                                                         "completion": "a"}) + "\n" for i in range(4)))
    (d / "badtests.jsonl").write_text('{"skill": "f", "prompt": "def f():", "completion": "x", '
                                      '"verifier": "python-tests", "tests": 5}\n')
    (d / "badrole.jsonl").write_text('{"skill": "r", "messages": [{"role": "wizard", "content": "hi"}, '
                                     '{"role": "assistant", "content": "x"}]}\n')
    (d / "noskills_plan.yaml").write_text("climbs: [{name: a, skills: []}]\n")
    (d / "noranks_plan.yaml").write_text("climbs: [{name: a, method: lora, lora_ranks: []}]\n")
    (d / "m_badcfg").mkdir()
    (d / "m_badcfg" / "config.json").write_text("{not json")
    (d / "run_bad").mkdir()
    (d / "run_bad" / "probe").mkdir()
    (d / "run_bad" / "probe" / "probe.json").write_text("{}")
    (d / "run_badjson").mkdir()
    (d / "run_badjson" / "probe").mkdir()
    (d / "run_badjson" / "probe" / "probe.json").write_text("{oops")
    (d / "badladder").mkdir()
    (d / "badladder" / "ladder.json").write_text('{"arms": 5}')
    (d / "badprefs").mkdir()
    (d / "badprefs" / "prefs.json").write_text('{"unit": "pairs", "rungs": [')
    (d / "userplan.yaml").write_text(f"model: {d / 'nomodel'}\nrl: {{max_rollouts: 64}}\n")
    one = {"skill": "s", "prompt": "p", "completion": "c"}
    for name, fields in {"split_list": {"split": ["train"]}, "split_dict": {"split": {"a": 1}},
                         "answer_bool": {"answer": True}, "answer_list": {"answer": [1]}, "skill_list": {"skill": ["s"]},
                         "verifier_num": {"verifier": 5}, "format_num": {"format": 5}, "stop_str": {"stop": "\n"},
                         "budget_float": {"max_new_tokens": 5.5}, "mark[b]up": {"split": "dev"}}.items():
        (d / f"{name}.jsonl").write_text(json.dumps({**one, **fields}) + "\n")
    turns = lambda q, a: {"skill": "s", "messages": [{"role": "user", "content": q},  # noqa: E731
                                                     {"role": "assistant", "content": a}]}
    (d / "content_num.jsonl").write_text(json.dumps(turns("q", 5)) + "\n")
    (d / "empty_answer_turn.jsonl").write_text(json.dumps(turns("q", "")) + "\n")
    (d / "empty_question_turn.jsonl").write_text(json.dumps(turns("  ", "a")) + "\n")
    (d / "line100.jsonl").write_text("".join(json.dumps({**one, "prompt": f"p{i}"}) + "\n" for i in range(99))
                                     + json.dumps({**one, "split": ["eval"]}) + "\n")
    (d / "eval_leak.jsonl").write_text("".join(json.dumps(x) + "\n" for x in [
        {**one, "prompt": "Q0", "completion": "A", "split": "eval"}, *({**one, "prompt": f"Q{i}"} for i in (1, 2, 3)),
        {**one, "prompt": "Q0", "completion": "B", "split": "train"}]))
    (d / "train_empty_answer.jsonl").write_text(json.dumps({"messages": turns("Capital of land 5?", "")["messages"]})
                                                + "\n")
    (d / "train_skill_list.jsonl").write_text(json.dumps({"skill": ["caps"], "prompt": "Capital of land 5?",
                                                          "completion": "x"}) + "\n")
    (d / "dupkey_plan.yaml").write_text("model: tiny-arith\nprobe:\n  n: 10\n  n: 20\n")
    (d / "dupflow_plan.yaml").write_text("climbs: [{name: a, name: b}]\n")
    (d / "dupkey_pretrain.yaml").write_text("steps: 5\nsteps: 6\n")
    (d / "rm_add").mkdir()  # a reward model as `prefs` leaves it: its config and what it was trained on
    (d / "rm_add" / "config.json").write_text("{}")
    (d / "rm_add" / "dataladder.json").write_text('{"skill": "add", "format": null, "pairs": 50, "seed": 0}')
    (d / "bare_prompt.jsonl").write_text('{"prompt": "Capital of land 99?"}\n')  # exact verifier, no answer
    (d / "deep.jsonl").write_text('{"skill": "s", "prompt": ' + "[" * 100_000 + "]" * 100_000 + ', "completion": "c"}\n')
    (d / "budget_huge.jsonl").write_text(json.dumps({**one, "max_new_tokens": 10**30}) + "\n")
    (d / "badschema.jsonl").write_text(json.dumps({**one, "verifier": "json-schema", "schema": {"type": "nosuchtype"}})
                                       + "\n")
    (d / "twotasks.jsonl").write_text(json.dumps({**one, **turns("q", "a")}) + "\n")  # prompt p, messages q
    (d / "pow_pretrain.yaml").write_text("mixture: {add: 0.5, pow: 0.5}\n")
    (d / "latin1.py").write_bytes("print('caf\xe9')\n".encode("latin-1"))
    (d / "arms").mkdir()
    (d / "arms" / "ladder.json").write_text('{"arms": [{"skill": "add", "rungs": []}]}')
    return d


# One line per case: (class, argv, what the one error line must say). {d}: the input files, {T}: their tasks.jsonl,
# {out}: an output directory that must not appear. A command without an output option of its own gets --output-dir
# {out} (synth: --output {out}/x.jsonl), so a refusal that came after any work would leave it behind.
CASES = [
    # numbers: signs, zero, infinity, NaN, crossed ranges, budgets below the first rung, counts past any sense
    ("numbers", ["climb", "--budget", "-40"], "--budget"),
    ("numbers", ["climb", "--budget", "40,30m,99"], "--budget"),
    ("numbers", ["climb", "--eval-n", "-5"], "--eval-n -5"),
    ("numbers", ["climb", "--seeds", "0"], "--seeds 0"),
    ("numbers", ["climb", "--target", "1.5"], "--target 1.5"),
    ("numbers", ["climb", "--growth", "1"], "--growth 1"),
    ("numbers", ["climb", "--method", "lora", "--lora-ranks", "0"], "--lora-ranks 0"),
    ("numbers", ["probe", "--n", "0"], "--n 0"),
    ("numbers", ["prefs", "--start", "0"], "--start 0"),
    ("numbers", ["rl", "--eval-n", "0"], "--eval-n 0"),
    ("numbers", ["--threads", "0", "probe"], "--threads 0"),
    ("numbers", ["dpo", "--seeds", "0"], "--seeds 0"),
    ("numbers", ["rm-policy", "--steps", "0"], "--steps 0"),
    ("numbers", ["climb", "--growth", "inf"], "--growth"),
    ("numbers", ["climb", "--budget", "infm"], "--budget"),
    ("numbers", ["climb", "--hp", "epochs=0"], "epochs"),
    ("numbers", ["probe", "--batch-size", "0"], "--batch-size 0"),
    ("numbers", ["probe", "--mastered-at", "1.5"], "--mastered-at 1.5"),
    ("numbers", ["probe", "--partial-at", "0.9", "--mastered-at", "0.5"], "below mastered_at"),
    ("numbers", ["prefs", "--budget", "10"], "max_pairs (--budget) 10 is below start (--start) 50"),
    ("numbers", ["rl", "--num-generations", "1"], "option --num-generations 1"),  # the option typed, not hp.*
    ("numbers", ["synth", "--skill", "mul", "--n", "5", "--temperature", "nan", "--source", "self"], "--temperature nan"),
    ("numbers", ["synth", "--skill", "mul", "--n", "5", "--top-p", "0", "--source", "self"], "--top-p 0"),
    ("numbers", ["synth", "--skill", "mul", "--n", "5", "--concurrency", "0", "--source", "endpoint"], "--concurrency 0"),
    ("numbers", ["curate", "{T}", "--min-chars", "100", "--max-chars", "10"], "below min_chars"),
    ("numbers", ["pretrain", "--steps", "0", "--output-dir", "{out}"], "--steps 0"),
    ("numbers", ["probe", "--n", "1000000000000"], "--n 1000000000000"),
    ("numbers", ["probe", "--seed", "-1"], "--seed -1"),
    ("numbers", ["climb", "--eval-n", "1000000000000"], "--eval-n 1000000000000"),
    ("numbers", ["climb", "--seeds", "100000"], "--seeds 100000"),
    ("numbers", ["synth", "--skill", "mul", "--n", "1000000000000"], "--n 1000000000000"),
    ("numbers", ["synth", "--skill", "mul", "--seed", "-3"], "--seed -3"),
    ("numbers", ["rl", "--budget", "10"], "--budget (max_rollouts) 10 is below one rung"),
    ("numbers", ["rl", "--seed", "-1"], "--seed -1"),
    ("numbers", ["rl", "--check-prompts", "1000000000000"], "--check-prompts"),
    ("numbers", ["rm-policy", "--seed", "-1"], "--seed -1"),
    ("numbers", ["prefs", "--heldout-n", "1000000000000"], "--heldout-n"),
    ("numbers", ["dpo", "--eval-n", "1000000000000"], "--eval-n"),
    ("numbers", ["probe", "--backend", "endpoint", "--endpoint-url", "http://127.0.0.1:9/v1", "--endpoint-model", "m",
                 "--endpoint-timeout", "0"], "--endpoint-timeout 0"),
    ("numbers", ["synth", "--skill", "mul", "--source", "endpoint", "--endpoint-url", "http://127.0.0.1:9/v1",
                 "--endpoint-model", "m", "--endpoint-timeout", "-1"], "--endpoint-timeout -1"),
    # Ray's options: refused before Ray starts
    ("numbers", ["climb", "--executor", "ray", "--threads-per-run", "0"], "--threads-per-run 0"),
    ("numbers", ["climb", "--executor", "ray", "--gpus-per-run", "-1"], "--gpus-per-run -1"),
    ("numbers", ["rl", "--executor", "ray", "--cpus-per-run", "-2"], "--cpus-per-run -2"),
    ("numbers", ["prefs", "--executor", "ray", "--cpus-per-run", "100000"], "--cpus-per-run 100000"),
    ("numbers", ["dpo", "--executor", "ray", "--workers", "0"], "--workers 0"),
    ("numbers", ["climb", "--executor", "ray", "--gpus-per-run", "1.5"], "--gpus-per-run"),
    ("numbers", ["climb", "--executor", "ray", "--ray-address", "nonsense"], "--ray-address"),
    # paths: missing, a directory for a file, a file for a directory, under a file
    ("paths", ["rm-policy", "--prefs", "{d}/missing"], "prefs.json"),
    ("paths", ["probe", "--model", "{d}/missing"], "missing"),
    ("paths", ["probe", "--model", "{d}/nomodel"], "config.json"),
    ("paths", ["probe", "--model", "dataladder-tests/no-such-model", "--skill", "add"], "local Hugging Face cache"),
    ("paths", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/missing.jsonl"], "missing.jsonl"),
    ("paths", ["probe", "--output-dir", "{d}/afile"], "is a file"),
    ("paths", ["curate", "{T}", "--output-dir", "{d}/afile/sub"], "cannot be created"),
    ("paths", ["corrupt", "{T}", "--output", "{d}", "--wrong-share", "0.1"], "is a directory"),
    ("paths", ["synth", "--skill", "mul", "--n", "5", "--source", "self", "--model", "{d}/missing"], "missing"),
    ("paths", ["synth", "--skill", "mul", "--source", "self", "--n", "5", "--probe", "{d}/adir"], "is a directory"),
    ("paths", ["synth", "--skill", "mul", "--n", "5", "--stats", "{d}/adir"], "is a directory"),
    ("paths", ["curate", "{d}/adir"], "is a directory"),
    ("paths", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/adir"], "is a directory"),
    ("paths", ["curate", "{T}", "--eval-set", "{d}/adir"], "is a directory"),
    ("paths", ["curate", "{T}", "--eval-set", "{d}/missing.jsonl"], "--eval-set {d}/missing.jsonl: no such file"),
    ("paths", ["probe", "--skill", "{d}/adir"], "is a directory"),
    ("paths", ["corrupt", "{T}", "--output", "{T}", "--wrong-share", "0.1"], "is the input file"),
    ("paths", ["sandbox", "{d}/missing.py"], "missing.py: no such file"),
    ("paths", ["run", "{d}/adir", "output_dir={out}"], "is a directory"),
    # files: every JSONL field of the wrong type or empty, JSON cut short, not UTF-8, empty in every shape
    ("files", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/empty.jsonl"], "empty.jsonl"),
    ("files", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/truncated.jsonl"], "truncated.jsonl:2"),
    ("files", ["curate", "{d}/latin1.jsonl"], "latin1.jsonl"),
    ("files", ["curate", "{d}/wrongtype.jsonl"], "wrongtype.jsonl:1"),
    ("files", ["probe", "--skill", "{d}/empty.jsonl"], "empty.jsonl"),
    ("files", ["curate", "{d}/empty_array.json"], "holds no records"),
    ("files", ["curate", "{d}/blank.jsonl"], "holds no records"),
    ("files", ["corrupt", "{d}/empty.jsonl", "--output", "{out}/x.jsonl", "--wrong-share", "0.1"], "holds no records"),
    ("files", ["probe", "--model", "{d}/m_badcfg", "--skill", "{T}"], "not valid JSON"),
    ("files", ["report", "{d}/run_bad"], "run_bad"),
    ("files", ["report", "{d}/run_badjson"], "probe.json:1: not a valid JSON"),
    ("files", ["compare", "--climb", "{d}/badladder", "--ladder", "{d}/badladder/ladder.json"], "badladder"),
    ("files", ["rm-policy", "--prefs", "{d}/badprefs"], "prefs.json"),
    ("files", ["climb", "--skill", "{d}/alleval.jsonl"], "no train items"),
    ("files", ["probe", "--skill", "{d}/badtests.jsonl"], "badtests.jsonl:1: field 'tests'"),
    ("files", ["probe", "--skill", "{d}/badrole.jsonl"], "messages[0].role"),
    ("files", ["skills", "{d}/split_list.jsonl"], "split_list.jsonl:1: field 'split'"),
    ("files", ["probe", "--skill", "{d}/split_list.jsonl", "--check-gold"], "split_list.jsonl:1: field 'split'"),
    ("files", ["skills", "{d}/split_dict.jsonl"], "split_dict.jsonl:1: field 'split'"),
    ("files", ["skills", "{d}/answer_bool.jsonl"], "answer_bool.jsonl:1: field 'answer'"),
    ("files", ["skills", "{d}/answer_list.jsonl"], "answer_list.jsonl:1: field 'answer'"),
    ("files", ["skills", "{d}/skill_list.jsonl"], "skill_list.jsonl:1: field 'skill'"),
    ("files", ["skills", "{d}/verifier_num.jsonl"], "verifier_num.jsonl:1: field 'verifier'"),
    ("files", ["skills", "{d}/format_num.jsonl"], "format_num.jsonl:1: field 'format'"),
    ("files", ["skills", "{d}/stop_str.jsonl"], "stop_str.jsonl:1: field 'stop'"),
    ("files", ["skills", "{d}/budget_float.jsonl"], "budget_float.jsonl:1: field 'max_new_tokens'"),
    ("files", ["skills", "{d}/content_num.jsonl"], "content_num.jsonl:1: field 'messages[1]'"),
    ("files", ["skills", "{d}/empty_answer_turn.jsonl"], "empty_answer_turn.jsonl:1: field 'messages[1].content'"),
    ("files", ["skills", "{d}/empty_question_turn.jsonl"], "empty_question_turn.jsonl:1: field 'messages[0].content'"),
    ("files", ["probe", "--skill", "{d}/eval_leak.jsonl", "--check-gold"], "eval_leak.jsonl:5: field 'split': repeats "
                                                                            "the question of line 1 (eval)"),
    ("files", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/train_empty_answer.jsonl"],
     "train_empty_answer.jsonl:1: field 'messages[1].content'"),
    ("files", ["curate", "{d}/train_empty_answer.jsonl"], "train_empty_answer.jsonl:1: field 'messages[1].content'"),
    ("files", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/train_skill_list.jsonl"],
     "train_skill_list.jsonl:1: field 'skill'"),
    ("files", ["skills", "{d}/line100.jsonl"], "line100.jsonl:100: field 'split'"),  # not "line100.jsonl💯"
    ("files", ["skills", "{d}/mark[b]up.jsonl"], "mark[b]up.jsonl:1: field 'split'"),  # [b] is text, not markup
    # names: unknown, misspelt, colliding with a built-in, a spec's parameters
    ("names", ["dpo", "--format", "bogus"], "bogus"),
    ("names", ["dpo", "--train-sources", "endpoint"], "--train-sources endpoint"),
    ("names", ["dpo", "--report-to", "tensorbord"], "did you mean 'tensorboard'"),
    ("names", ["climb", "--report-to", "wandbb"], "--report-to"),
    ("names", ["prefs", "--executor", "slurm"], "--executor slurm"),
    ("names", ["probe", "--skill", "{d}/collide.jsonl"], "built-in skill"),
    ("names", ["probe", "--skill", "mul:digits=0"], "digits"),
    ("names", ["synth", "--skill", "{T}:eval_share=2"], "eval_share"),
    ("names", ["probe", "--model", "{d}/nomodel", "--skill", "{T}"], "config.json"),
    ("names", ["probe", "--skill", "{d}/colon.jsonl"], "without ':'"),
    ("names", ["probe", "--skill", "{d}/case.jsonl"], "built-in skill"),
    ("names", ["climb", "--target-format", "bogus"], "--target-format"),
    ("names", ["curate", "{T}", "--steps", ",,"], "at least one step"),
    ("names", ["prefs", "--heldout-sources", "bogus"], "--heldout-sources"),
    ("names", ["climb", "--method", "lora", "--lora-ranks", ""], "lora_ranks is empty"),
    # contradictions: two options that cannot both hold, named together; a thing given twice
    ("contradictions", ["climb", "--skill", "add", "--skill", "add"], "given twice"),
    ("contradictions", ["probe", "--skill", "mul", "--skill", "mul"], "given twice"),
    ("contradictions", ["curate", "{T}", "--steps", "dedup,dedup"], "given twice"),
    ("contradictions", ["synth", "--skill", "mul", "--messages", "--trl-format", "prompt-completion"],
     "--messages with --trl-format"),
    ("contradictions", ["synth", "--skill", "mul", "--source", "template", "--model", "tiny-arith"],
     "--source template with --model"),
    ("contradictions", ["synth", "--skill", "mul", "--source", "self", "--model", "tiny-arith", "--endpoint-url",
                        "http://127.0.0.1:9/v1"], "--source self with --endpoint-url"),
    ("contradictions", ["synth", "--skill", "mul", "--source", "endpoint", "--model", "tiny-arith"],
     "--source endpoint with --model"),
    ("contradictions", ["synth", "--skill", "mul", "--output", "{out}/o.xlsx"], "--output {out}/o.xlsx: unknown output"),
    ("contradictions", ["corrupt", "{T}", "--output", "{out}/o.xlsx", "--wrong-share", "0.1"], "unknown output format"),
    ("contradictions", ["climb", "--method", "full", "--lora-ranks", "4"], "--method full with --lora-ranks"),
    ("contradictions", ["climb", "--executor", "local", "--ray-address", "auto"], "--executor local with --ray-address"),
    ("contradictions", ["rl", "--executor", "local", "--threads-per-run", "2"], "--executor local with --threads-per-run"),
    ("contradictions", ["prefs", "--gpus-per-run", "1"], "--executor local with --gpus-per-run"),
    ("contradictions", ["probe", "--backend", "hf", "--endpoint-url", "http://127.0.0.1:9/v1"],
     "--backend hf with --endpoint-url"),
    ("contradictions", ["probe", "--endpoint-model", "m"], "--backend hf with --endpoint-model"),
    ("contradictions", ["probe", "--backend", "endpoint", "--endpoint-url", "http://127.0.0.1:9/v1", "--endpoint-model",
                        "m", "--batch-size", "4"], "--backend endpoint with --batch-size"),
    ("contradictions", ["prefs", "--train-sources", "near-miss,near-miss"], "near-miss is given twice"),
    ("contradictions", ["prefs", "--train-sources", "near-miss", "--heldout-sources", "near-miss"],
     "also a training source"),
    ("contradictions", ["dpo", "--train-sources", "near-miss,near-miss"], "near-miss is given twice"),
    # plans: YAML that is not a plan, keys given twice, values out of range, names that escape
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}"], "seeds"),
    ("plans", ["run", "{d}/userplan.yaml", "output_dir={out}"], "rl.skill"),
    ("plans", ["run", "{d}/empty_plan.yaml", "output_dir={out}"], "the plan is empty"),
    ("plans", ["run", "{d}/utf16_plan.yaml", "output_dir={out}"], "utf16_plan.yaml:1: not UTF-8"),
    ("plans", ["run", "{d}/nul_plan.yaml", "output_dir={out}"], "nul_plan.yaml:2: not valid YAML"),
    ("plans", ["run", "{d}/list_plan.yaml", "output_dir={out}"], "a YAML list"),
    ("plans", ["run", "{d}/twins_plan.yaml", "output_dir={out}"], "climbs.1.name"),
    ("plans", ["run", "{d}/escape_plan.yaml", "output_dir={out}"], "climbs.0.name"),
    ("plans", ["run", "{d}/skill_plan.yaml", "output_dir={out}"], "skill_plan.yaml: climbs.0.skills: unknown skill"),
    ("plans", ["run", "{d}/growth_plan.yaml", "output_dir={out}"], "growth"),
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "climbs.0.seeds=1", "parallel=0"], "parallel"),
    ("plans", ["run", "{d}/noskills_plan.yaml", "output_dir={out}"], "skills is empty"),
    ("plans", ["run", "{d}/noranks_plan.yaml", "output_dir={out}"], "lora_ranks is empty"),
    ("plans", ["run", "{d}/dupkey_plan.yaml", "output_dir={out}"], "dupkey_plan.yaml:4: key 'n' is given twice"),
    ("plans", ["run", "{d}/dupflow_plan.yaml", "output_dir={out}"], "dupflow_plan.yaml:1: key 'name' is given twice"),
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "climbs.0.seeds=1", "executor.ray.threads_per_run=0"],
     "threads_per_run"),
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "climbs.0.seeds=1", "probe.n=1000000000000"], "probe.n"),
    # contradictions inside a plan: the same pairs the options refuse
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "climbs.0.seeds=1", "climbs.0.lora_ranks=[4]"],
     "climbs.0.method full with --lora-ranks: they contradict"),
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "climbs.0.seeds=1", "executor.ray.workers=2"],
     "executor.kind local with executor.ray.workers"),
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "climbs.0.seeds=1", "rl.online_every=2"],
     "rl.online_every needs --reward-model"),
    # the derived commands: every kind's, the new icl too
    ("numbers", ["icl", "--budget", "0"], "--budget '0'"),
    ("contradictions", ["rl", "--rungs", "adaptive"], "--rungs adaptive: an RL ladder's rungs are GRPO step counts"),
    ("names", ["climb", "--rungs", "fast"], "--rungs fast"),
    # a second audit of the derived commands
    ("contradictions", ["climb", "--hp", "epochs=1", "--hp", "epochs=2"], "--hp epochs= is given twice"),
    ("contradictions", ["rl", "--hp", "num_generations=3", "--num-generations", "4"],
     "--num-generations and --hp num_generations=: they contradict"),
    ("contradictions", ["climb", "--model", "tiny-arith", "--model", "tiny-arith"], "--model tiny-arith is given twice"),
    ("contradictions", ["climb", "--method", "full", "--lora-ranks", "1,4,16"], "--method full with --lora-ranks"),
    ("numbers", ["compare", "--delta", "nan", "--climb", "{d}/adir", "--ladder", "{d}/afile"], "--delta nan"),
    ("paths", ["climb", "--output-dir", "/proc/x"], "virtual file system"),
    ("names", ["climb", "--hp", "learning_rate_full=["], "--hp: 'learning_rate_full=[': the value '[' is not valid YAML"),
    ("names", ["rl", "--format", "bogus"], "--format: unknown mul format 'bogus'"),
    ("names", ["climb", "--hp", "learning_rate=1e-4"], "--hp learning_rate: unknown key 'learning_rate'; did you mean"),
    ("names", ["icl", "--format", "nosuch"], "--format"),
    ("numbers", ["icl", "--start", "8", "--budget", "4"], "max_shots (--budget) 4 is below start (--start) 8"),
    ("names", ["compare", "--icl", "{d}/adir", "--climb", "{d}/adir"], "adir"),
    ("files", ["pretrain", "--config", "{d}/dupkey_pretrain.yaml", "--output-dir", "{out}"],
     "dupkey_pretrain.yaml:2: key 'steps' is given twice"),
    # a third audit: empty values, repeats and options that nothing would use
    ("paths", ["climb", "--output-dir", ""], "--output-dir '': an empty path"),
    ("paths", ["probe", "--output-dir", ""], "--output-dir '': an empty path"),
    ("paths", ["rl", "--output-dir", ""], "--output-dir '': an empty path"),
    ("paths", ["compare", "--output-dir", ""], "--output-dir '': an empty path"),
    ("paths", ["synth", "--skill", "mul", "--output", ""], "--output '': an empty path"),
    ("plans", ["run", "{d}/plan.yaml", "climbs.0.seeds=1", "output_dir=''"], "output_dir '': an empty path"),
    ("names", ["climb", "--method", "lora", "--lora-ranks", "1,,4"], "--lora-ranks '1,,4': an empty item"),
    ("names", ["prefs", "--train-sources", "near-miss,"], "--train-sources 'near-miss,': an empty item"),
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "output_dir={out}/b"], "override output_dir= is given twice"),
    ("contradictions", ["prefs", "--other-model", "{d}/nomodel"],
     "--other-model {d}/nomodel with --train-sources near-miss and --heldout-sources self: they contradict"),
    ("contradictions", ["rl", "--cold-start", "5", "--cold-start-examples", "10"],
     "--cold-start 5 with --cold-start-examples: they contradict"),
    ("contradictions", ["rl", "--skill", "mul", "--reward-model", "{d}/rm_add"],
     "--skill mul with --reward-model {d}/rm_add: they contradict (the reward model was trained on skill add"),
    ("contradictions", ["rl", "--check-samples", "4", "--num-generations", "8"],
     "--check-samples 4 with --num-generations 8: they contradict"),
    ("names", ["compare"], "compare needs at least two of --climb, --prefs, --rl, --dpo, --rm-policy, --icl, --ladder"),
    ("paths", ["rm-policy", "--prefs", "{d}/afile"], "--prefs {d}/afile: a file, not a directory; give the output "
                                                     "directory of `dataladder prefs`, which holds prefs.json"),
    ("paths", ["rm-policy", "--prefs", "{d}/adir"], "--prefs {d}/adir: no prefs.json in it"),
    ("files", ["synth", "--skill", "{T}:caps", "--prompts-file", "{d}/bare_prompt.jsonl"],
     "bare_prompt.jsonl:1: field 'answer': verifier exact compares with an answer"),
    ("files", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/collide.jsonl"],  # before the estimate (stdout)
     "--train-file {d}/collide.jsonl: no training records for skill"),
    # a fourth audit: numbers without a range, '' as "not given", contradictions left silent, files read raw
    ("numbers", ["corrupt", "{T}", "--output", "{out}/x.jsonl", "--wrong-share", "0.1", "--seed", "-1"], "--seed -1"),
    ("numbers", ["sandbox", "--limits", "wall_s=nan"], "--limits: sandbox limit wall_s: must be positive and at most"),
    ("numbers", ["sandbox", "--limits", "wall_s=inf"], "--limits: sandbox limit wall_s: must be positive and at most"),
    ("numbers", ["sandbox", "--limits", "memory_mb=100000000000"], "--limits: sandbox limit memory_mb"),
    ("numbers", ["climb", "--executor", "ray", "--cpus-per-run", "0"], "(--cpus-per-run) 0 with gpus_per_run"),
    ("numbers", ["skills", "{d}/budget_huge.jsonl"], "budget_huge.jsonl:1: field 'max_new_tokens': must be a positive"),
    ("numbers", ["rl", "--num-generations", "0"], "option --num-generations 0"),
    ("numbers", ["rl", "--hp", "num_generations=0"], "option --hp num_generations 0"),
    ("paths", ["climb", "--skill", "{T}:caps", "--train-file", ""], "--train-file '': an empty value"),
    ("paths", ["probe", "--model", ""], "--model '': an empty value"),
    ("paths", ["dpo", "--model", ""], "--model '': an empty value"),
    ("paths", ["climb", "--model", ""], "--model: no model given"),
    ("paths", ["synth", "--skill", "mul", "--source", "self", "--model", ""], "--model '': an empty value"),
    ("paths", ["probe", "--model", "{T}"], "tasks.jsonl: a file, not a model directory"),
    ("paths", ["climb", "--skill", "{T}:caps", "--train-file", "{d}/new\nline.jsonl"],
     "--train-file {d}/new\\nline.jsonl: no such file"),  # the newline escaped: still one line
    ("files", ["skills", "{d}/deep.jsonl"], "deep.jsonl:1: not readable JSON: nested too deeply"),
    ("files", ["skills", "{d}/badschema.jsonl"], "badschema.jsonl:1: field 'schema': not a valid JSON Schema"),
    ("files", ["skills", "{d}/twotasks.jsonl"], "twotasks.jsonl:1: field 'prompt': differs from 'messages'"),
    ("files", ["pretrain", "--config", "{d}/pow_pretrain.yaml", "--output-dir", "{out}"],
     "pow_pretrain.yaml:1: key 'mixture': unknown skill 'pow'"),
    ("files", ["sandbox", "{d}/latin1.py"], "latin1.py: not utf-8 text"),
    ("names", ["climb", "--model", "tiny-arth"], "--model tiny-arth: unknown model; did you mean 'tiny-arith'?"),
    ("contradictions", ["dpo", "--temperature", "0.7"], "--temperature 0.7 with --train-sources near-miss: they "
                                                        "contradict"),
    ("contradictions", ["probe", "--check-gold", "--skill", "{T}", "--model", "{d}/nomodel"],
     "--check-gold with --model: they contradict"),
    ("contradictions", ["probe", "--check-gold", "--skill", "{T}", "--backend", "endpoint", "--endpoint-url",
                        "http://127.0.0.1:9/v1", "--endpoint-model", "m"], "--check-gold with --backend"),
    ("contradictions", ["curate", "{T}", "--eval-n", "5", "--skill", "{T}"], "--eval-n 5 without --eval-skill"),
    ("contradictions", ["curate", "{T}", "--steps", "dedup", "--near-dup-threshold", "0.5", "--skill", "{T}"],
     "--steps dedup with --near-dup-threshold: they contradict"),
    ("contradictions", ["curate", "{T}", "--steps", "dedup", "--min-chars", "5", "--skill", "{T}"],
     "--steps dedup with --min-chars"),
    ("contradictions", ["compare", "--climb", "{d}/arms", "--ladder", "{d}/badladder", "--skill", "nosuch"],
     "--skill nosuch: no arm of {d}/arms/ladder.json is for it"),
    ("contradictions", ["compare", "--ladder", "{d}/arms", "--ladder", "{d}/badladder", "--skill", "add"],
     "--skill add without --climb"),
    ("contradictions", ["climb", "--method", "full", "--hp", "learning_rate_lora=1e-3"],
     "--method full with --hp learning_rate_lora=: they contradict"),
    ("contradictions", ["corrupt", "{T}", "--output", "{out}/x.jsonl", "--synthetic-error", "0.3"],
     "--unverified-share 0 with --synthetic-error: they contradict"),
    ("contradictions", ["corrupt", "{T}", "--output", "{out}/x.jsonl"], "--duplicate-share are all 0"),
    # a fifth audit: sizes without a ceiling, options that name the same file, repeats, unknown names without the option
    ("numbers", ["climb", "--method", "lora", "--lora-ranks", "100000000"], "option --lora-ranks 100000000"),
    ("numbers", ["prefs", "--lora-r", "100000"], "option --lora-r 100000"),
    ("numbers", ["climb", "--max-new-tokens", "1000000000000"], "option --max-new-tokens 1000000000000"),
    ("numbers", ["synth", "--skill", "mul", "--max-new-tokens", "2000000"], "option --max-new-tokens 2000000"),
    ("numbers", ["rl", "--num-generations", "1000000"], "option --num-generations 1000000"),
    ("numbers", ["icl", "--budget", "1000000000"], "option --budget 1000000000"),
    ("numbers", ["prefs", "--min-pairs", "3000"], "(--min-pairs) 3000 is more than half the budget (--budget 3200)"),
    ("numbers", ["sandbox", "{d}/ok.py", "--limits", "wall_s=5,wall_s=6"], "--limits: sandbox limit wall_s is given twice"),
    ("paths", ["synth", "--skill", "mul", "--output", "{out}/x.jsonl", "--stats", "{out}/x.jsonl"],
     "--output and --stats name the same file"),
    ("paths", ["synth", "--skill", "{T}:caps", "--output", "{T}"], "--output and --skill name the same file"),
    ("paths", ["corrupt", "{T}", "--output", "{d}/hard.jsonl", "--wrong-share", "0.1"], "is the input file"),
    ("contradictions", ["sandbox", "--tests", "{d}/ok.py"], "--tests without PROGRAM"),
    ("contradictions", ["sandbox", "{d}/ok.py", "--tests", "{d}/t_ok.py", "--tests", "{d}/t_ok.py"],
     "--tests {d}/t_ok.py is given twice"),
    ("contradictions", ["fit", "{d}/points.csv", "--at", "1000", "--at", "1000"], "--at 1000 is given twice"),
    ("contradictions", ["probe", "--check-gold", "--skill", "{T}", "--output-dir", "{out}"],
     "--check-gold with --output-dir: they contradict"),
    ("contradictions", ["prefs", "--endpoint-model", "m"], "--endpoint-model m with --train-sources near-miss"),
    ("contradictions", ["synth", "--skill", "mul", "--probe", "{d}/afile"], "--source template with --probe"),
    ("contradictions", ["corrupt", "{T}", "--output", "{out}/x.jsonl", "--duplicate-share", "0.5", "--skill", "{T}"],
     "--wrong-share 0 with --skill: they contradict"),
    ("names", ["probe", "--skill", "add "], "--skill: unknown skill 'add '; did you mean 'add'?"),
    ("names", ["icl", "--skill", "mull"], "--skill: unknown skill 'mull'"),
    ("names", ["dpo", "--skill", "mull"], "--skill: unknown skill 'mull'"),
    ("names", ["synth", "--skill", "mull"], "--skill: unknown skill 'mull'"),
    ("names", ["synth", "--skill", "mul", "--source", "teacher"], "--source: unknown source 'teacher'"),
    ("names", ["curate", "{T}", "--eval-skill", "nosuch"], "--eval-skill: unknown skill 'nosuch'"),
    ("names", ["corrupt", "{T}", "--output", "{out}/x.jsonl", "--wrong-share", "0.1", "--skill", "nosuch"],
     "--skill: unknown skill 'nosuch'"),
    # a sixth audit
    ("paths", ["corrupt", "{d}/train.jsonl", "--wrong-share", "0.1", "--skill", "{T}", "--output", "{T}"],
     "--output and --skill name the same file"),
    ("numbers", ["climb", "--hp", "epochs=true"], "option --hp epochs: expected a number, got true"),
    ("names", ["curate", "{T}", "--skill", "{T}", "--steps", "validate,,dedup"], "--steps 'validate,,dedup': an empty item"),
    ("contradictions", ["sandbox", "--limits", "wall_s=5"], "--limits without PROGRAM"),
    ("contradictions", ["curate", "{T}", "--skill", "{T}", "--steps", "validate,dedup", "--require-verified"],
     "--steps validate,dedup with --require-verified: they contradict"),
    ("paths", ["compare", "--climb", "{d}/adir", "--dpo", "{d}/adir"], "--climb {d}/adir and --dpo {d}/adir: the same"),
    ("paths", ["compare", "--climb", "{d}/arms", "--icl", "{d}/adir"], "--icl {d}/adir: no icl.json here"),
    ("plans", ["run", "{d}/plan.yaml", "output_dir={out}", "climbs.0.seeds=1", "climbs.x.seeds=2"],
     "'climbs.x.seeds=2': climbs is a list of 1; 'x' is not an index 0–0"),
]

NO_OUTPUT_OPTION = ("run", "--threads", "report", "sandbox", "skills")


def _argv(args: list[str], d, out) -> list[str]:
    argv = [a.format(d=d, out=out, T=d / "tasks.jsonl") for a in args]
    if argv[0] in NO_OUTPUT_OPTION or "--output-dir" in argv or "--output" in argv or "--check-gold" in argv:
        return argv
    return [*argv, *(["--output", str(out / "x.jsonl")] if argv[0] == "synth" else ["--output-dir", str(out)])]


@pytest.mark.parametrize("kind, args, says", CASES, ids=[f"{k}-{' '.join(a)[:60]}" for k, a, _ in CASES])
def test_bad_input_is_one_line_exit_2_before_any_model_and_writes_nothing(kind, args, says, files, tmp_path,
                                                                        monkeypatch):
    """Each case: exit code 2, exactly one line on stderr (nothing on stdout) naming the option, file:line or field,
    no traceback, no model loaded, no busy-machine warning before it (the refusal comes before `_quiet`), and
    nothing written: neither the output directory nor anything among the inputs."""
    import dataladder.models.hub as hub
    import dataladder.core.runtime as runtime

    def no_model(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(hub, "load_model", no_model)
    monkeypatch.setattr(runtime, "load_warning", lambda: "warning: this machine is busy (a test's)")
    monkeypatch.delenv("DATALADDER_THREADS", raising=False)
    out = tmp_path / "out"
    before = sorted(p.name for p in files.rglob("*"))
    argv = _argv(args, files, out)
    try:
        r = runner.invoke(app, argv, env={"COLUMNS": "400"})
    finally:
        os.environ.pop("DATALADDER_THREADS", None)  # --threads sets it for the process
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 2, (argv, r.output, r.exception)
    assert isinstance(r.exception, SystemExit), (argv, r.exception)  # not a traceback
    assert r.stdout.strip() == "", (argv, r.stdout)
    assert len(lines) == 1 and lines[0].startswith("error:"), (argv, r.stderr)
    assert says.format(d=files, out=out) in lines[0], (argv, lines[0])
    assert "Traceback" not in r.output
    assert not out.exists(), argv
    assert sorted(p.name for p in files.rglob("*")) == before, argv


@pytest.mark.parametrize("argv, says", [
    (["synth", "--skill", "mul", "--source", "template", "--source", "self"], "option --source is given twice"),
    (["probe", "--n", "5", "--n=6"], "option --n is given twice"),
    (["synth", "--skill", "mul", "--greedy-check", "--no-greedy-check"], "--greedy-check and --no-greedy-check"),
])
def test_a_one_value_option_given_twice_is_refused_by_the_entry_point(argv, says, monkeypatch, capsys, tmp_path):
    """click keeps the last of a repeated option silently; the installed command refuses it in one line."""
    import sys

    from dataladder.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["dataladder", *argv])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr()
    assert e.value.code == 2 and err.out == "" and len(err.err.strip().splitlines()) == 1 and says in err.err
    assert list(tmp_path.iterdir()) == []


def test_an_endpoint_that_never_replies_is_one_line_within_the_total_limit(monkeypatch):
    """A server that accepts and never answers: reported once --endpoint-timeout has passed (all tries together),
    not after every try's own timeout."""
    import socket
    import threading
    import time

    from dataladder.generate import GenOptions, make_generator
    from dataladder.skills import get_skill

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])  # read nothing, answer nothing
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
        gen = make_generator(GenOptions(backend="endpoint", endpoint_url=url, endpoint_model="m", timeout=30,
                                        endpoint_timeout=0.6, retries=3))
        gen.client.backoff = 0.05
        sk = get_skill("add")
        prompts = [gen.prompt_for(sk, "native", it) for it in sk.items("eval", 2, 0)]
        t = time.monotonic()
        with pytest.raises(ValueError) as e:
            gen.greedy(prompts)
        took = time.monotonic() - t
    finally:
        stop.set()
        for c in held:
            c.close()
        srv.close()
    msg = str(e.value)
    assert "\n" not in msg and url in msg and "no reply within 0.6 s" in msg and "--endpoint-timeout" in msg
    assert took < 5, took


def test_valid_unusual_files_are_accepted(files, tmp_path):
    from dataladder.data.trainfile import read_train_file
    from dataladder.skills import get_skill

    d = files
    bom = d / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + (d / "tasks.jsonl").read_bytes().replace(b"\n", b"\r\n"))
    assert len(get_skill(str(bom)).items("eval", 100, 0)) == 4
    alpaca = d / "alpaca.json"
    alpaca.write_text(json.dumps([{"instruction": f"Capital of land {i}?", "input": "", "output": f"City {i}"}
                                  for i in range(4, 12)]))
    assert len(read_train_file(alpaca)) == 8
    huge = d / "huge.jsonl"
    huge.write_text(json.dumps({"prompt": "Summarize: " + "word " * 80_000, "completion": "words"}) + "\n")
    r = runner.invoke(app, ["curate", str(huge), "--output-dir", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "c" / "stats.json").read_text())["kept"] == 1


def test_valid_inputs_next_to_the_refused_ones_are_accepted(files, tmp_path):
    """What the checks above must not catch: a question in both splits with the same answer, YAML merge keys,
    --messages with --trl-format messages, an output without a suffix, a line-100 gold failure named in full."""
    from dataladder.core.config import read_yaml
    from dataladder.skills import get_skill

    d = files
    one = {"skill": "s", "prompt": "Q0", "completion": "A"}
    (d / "both.jsonl").write_text(json.dumps({**one, "split": "eval"}) + "\n" + json.dumps({**one, "split": "train"})
                                  + "\n")
    sk = get_skill(str(d / "both.jsonl"))
    assert len(sk.items("eval", 9, 0)) == len(sk.items("train", 9, 0)) == 1
    (d / "merge.yaml").write_text("base: &b {n: 5, seed: 1}\nprobe:\n  <<: *b\n  n: 7\n")
    assert read_yaml(d / "merge.yaml")["probe"] == {"n": 7, "seed": 1}
    r = runner.invoke(app, ["synth", "--skill", "mul", "--n", "3", "--messages", "--trl-format", "messages",
                            "--output", str(tmp_path / "plain")])
    assert r.exit_code == 0, r.output
    assert "messages" in json.loads((tmp_path / "plain").read_text().splitlines()[0])
    rows = [{"skill": "s", "prompt": f"q{i}", "completion": "a"} for i in range(99)]
    rows.append({"skill": "s", "prompt": "q99", "completion": "a", "verifier": "regex:^b$"})
    (d / "gold100.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    r = runner.invoke(app, ["probe", "--skill", str(d / "gold100.jsonl"), "--check-gold"], env={"COLUMNS": "400"})
    assert r.exit_code == 1 and f"{d / 'gold100.jsonl'}:100: gold answer fails" in r.stderr, r.stderr
    from dataladder.cli.common import check_writable

    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):  # an ordinary tmpfs, not /proc or /sys
        check_writable(f"/dev/shm/dataladder-test-{os.getpid()}/out", "--output-dir")
    # the same file for two options refused, different files (and no file) accepted
    from dataladder.cli.common import distinct_files

    distinct_files({"--output": tmp_path / "a.jsonl", "--stats": tmp_path / "a.stats.json", "--probe": None})
    with pytest.raises(ValueError, match="--output and --stats name the same file"):
        distinct_files({"--output": tmp_path / "a.jsonl", "--stats": tmp_path / "sub" / ".." / "a.jsonl"})


@pytest.mark.parametrize("args, says", [
    (["fit", "points.csv", "--target", "40%"], "Invalid value for '--target'"),
    (["climb", "--bogus"], "No such option: --bogus"),
    (["fit"], "Missing argument"),
])
def test_option_errors_of_the_installed_command_are_one_line(args, says, tmp_path):
    """Click's own usage errors (a typo'd option, a value of the wrong type) through the real entry point."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "dataladder"
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=tmp_path)
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and says in lines[0] and "--help" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_plan_whose_rl_budget_cannot_hold_a_rung_stops_before_any_step(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("probe: {n: 10}\nrl: {max_rollouts: 512}\n")
    r = runner.invoke(app, ["run", str(plan), f"output_dir={tmp_path / 'out'}"], env={"COLUMNS": "400"})
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "rl: --budget (max_rollouts) 512 is below one rung" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cmd, module, driver, says", [
    ("prefs", "dataladder.ladder.prefs", "prefs", "prefs: loading tiny-arith …"),
    ("dpo", "dataladder.ladder.dpo", "dpo", "dpo: loading tiny-arith …"),
    ("icl", "dataladder.ladder.icl", "icl", "icl: loading tiny-arith …"),
    ("rl", "dataladder.ladder.rl", "rl", "rl: loading tiny-arith …"),
    ("rm-policy", "dataladder.ladder.rm_policy", "rm_policy", "rm-policy: loading the model of {p}/prefs …"),
])
def test_an_accepted_ladder_command_says_so_at_once(cmd, module, driver, says, monkeypatch, tmp_path):
    """Once every check has passed, before the first model load (seconds): one short line on stderr, through the
    one command flow of every kind (climb's early line is its estimate)."""
    import importlib

    import dataladder.core.runtime as runtime

    seen = []

    def stub(cfg, output_dir, **kw):  # the driver: where the model would load
        seen.append(output_dir)
        raise ValueError("stub driver")

    monkeypatch.setattr(importlib.import_module(module), driver, stub)
    monkeypatch.setattr(runtime, "load_warning", lambda: None)
    (tmp_path / "prefs").mkdir()
    (tmp_path / "prefs" / "prefs.json").write_text(json.dumps({
        "kind": "reward", "unit": "pairs", "config": {}, "base": None,
        "rungs": [{"n": 50, "accuracy": 0.6, "seeds": [{"accuracy": 0.6}]}]}))
    from dataladder.core.store import RunStore
    from dataladder.ladder.prefs import PrefsConfig, data_config, rung_config

    pc = PrefsConfig()  # the reward model of its one rung, finished in its run store (rm-policy checks it is there)
    run = RunStore(tmp_path / "prefs").path(rung_config(pc, data_config(pc), 50, 0))
    run.mkdir(parents=True)
    (run / "done").write_text("")
    extra = ["--prefs", str(tmp_path / "prefs")] if cmd == "rm-policy" else []
    r = runner.invoke(app, [cmd, *extra, "--output-dir", str(tmp_path / "out")], env={"COLUMNS": "400"})
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert seen and lines == [says.format(p=tmp_path), "error: stub driver"], r.stderr


def test_a_prompts_file_line_without_a_completion_is_accepted_where_the_help_says_it_may_be(files, tmp_path):
    """The completion may be left out given `answer`, or a verifier that needs neither (the help says so); a bare
    prompt under the default exact verifier is refused (the CASES row)."""
    from dataladder.skills.spec import train_skill

    (files / "p.jsonl").write_text(json.dumps({"prompt": "Capital of land 98?", "answer": "City 98"}) + "\n"
                                   + json.dumps({"prompt": "Capital of land 97?", "verifier": "regex:^City"}) + "\n")
    sk = train_skill(f"{files / 'tasks.jsonl'}:caps", str(files / "p.jsonl"))
    keys = {it.key for it in sk.items("train", 100, 0)}
    assert {"Capital of land 98?", "Capital of land 97?"} <= keys
    r = runner.invoke(app, ["synth", "--skill", f"{files / 'tasks.jsonl'}:caps", "--prompts-file", str(files / "p.jsonl"),
                            "--n", "3", "--output", str(tmp_path / "o.jsonl")], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    help_text = runner.invoke(app, ["synth", "--help"], env={"COLUMNS": "400"}).output
    assert "the completion too, given 'answer' or a verifier that needs neither" in " ".join(help_text.split())


def test_a_refused_connection_is_one_line_at_once(tmp_path):
    """Nothing listening at --endpoint-url: one line within a couple of seconds (no retries, no backoff), before
    any import of a model library, both from the client and from the commands."""
    import socket
    import time

    from dataladder.generate.endpoint import Endpoint, EndpointError

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    s.close()
    t = time.monotonic()
    with pytest.raises(EndpointError, match="cannot connect"):
        Endpoint(url, "m").complete_text("1+1=")  # the defaults: 3 retries, 0.5 s backoff (3.5 s if it retried)
    assert time.monotonic() - t < 1.5
    for args in (["synth", "--skill", "mul", "--source", "endpoint", "--output", str(tmp_path / "s.jsonl")],
                 ["probe", "--backend", "endpoint", "--skill", "mul", "--output-dir", str(tmp_path / "p")]):
        t = time.monotonic()
        r = runner.invoke(app, [*args, "--endpoint-url", url, "--endpoint-model", "m"], env={"COLUMNS": "400"})
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and "cannot connect" in lines[0] and url in lines[0], r.stderr
        assert time.monotonic() - t < 3 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, says", [
    (["curate", "", "--output-dir", "out"], "dataladder curate: INPUT '': an empty path"),
    (["fit", ""], "dataladder fit: POINTS '': an empty path"),
    (["report", ""], "dataladder report: RUN_DIR '': an empty path"),
    (["sandbox", "--tests", ""], "dataladder sandbox: --tests '': an empty path"),
    (["compare", "--climb", "", "--dpo", "x"], "dataladder compare: --climb '': an empty path"),
])
def test_an_empty_path_is_refused_by_the_entry_point(argv, says, monkeypatch, capsys, tmp_path):
    """click reads '' as Path('.'), the current directory, silently: the installed command names the argument."""
    import sys

    from dataladder.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["dataladder", *argv])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr()
    assert e.value.code == 2 and err.out == "" and len(err.err.strip().splitlines()) == 1 and says in err.err
    assert list(tmp_path.iterdir()) == []


def test_valid_inputs_next_to_the_fourth_audits_refusals_are_accepted(files, tmp_path):
    """JSON-array task files (pretty-printed or on one line, as docs/commands.md allows), `messages` beside a
    `prompt` that repeats its question (as datasets carry it), a valid schema, a program that declares its
    encoding, the largest limits, 0 CPUs per run beside a GPU share."""
    from dataladder.cli.data import _source
    from dataladder.executors.ray import RayOptions
    from dataladder.skills import get_skill
    from dataladder.skills.spec import train_skill
    from dataladder.verify.sandbox import Limits

    d = files
    rows = [json.loads(x) for x in (d / "tasks.jsonl").read_text().splitlines()]
    (d / "pretty.json").write_text(json.dumps(rows, indent=2))
    (d / "oneline.json").write_text(json.dumps(rows))
    for name in ("pretty.json", "oneline.json"):
        sk = get_skill(str(d / name))
        assert (len(sk.items("eval", 100, 0)), len(sk.items("train", 100, 0))) == (4, 8)
        for argv in (["skills", str(d / name)], ["probe", "--skill", str(d / name), "--check-gold"]):
            r = runner.invoke(app, argv, env={"COLUMNS": "400"})
            assert r.exit_code == 0, r.output
    (d / "more.json").write_text(json.dumps([{"prompt": "Capital of land 40?", "completion": "City 40"}]))
    assert "Capital of land 40?" in {it.key for it in train_skill(f"{d / 'tasks.jsonl'}:caps",
                                                                  str(d / "more.json")).items("train", 100, 0)}
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    (d / "dataset.jsonl").write_text(json.dumps({"skill": "s", "prompt": "q", "completion": "a", "messages": msgs}) + "\n"
                                     + json.dumps({"skill": "s", "prompt": "p", "completion": "c", "verifier":
                                                   "json-schema", "schema": {"type": "object"}}) + "\n")
    assert len(get_skill(str(d / "dataset.jsonl")).items("eval", 9, 0) + get_skill(str(d / "dataset.jsonl")).items(
        "train", 9, 0)) == 2
    (d / "declared.py").write_bytes("# -*- coding: latin-1 -*-\nprint('caf\xe9')\n".encode("latin-1"))
    assert "café" in _source(d / "declared.py")
    assert Limits.parse("wall_s=86400,memory_mb=4096").wall_s == 86400
    assert RayOptions(cpus_per_run=0, gpus_per_run=1).cpus_per_run == 0
