"""The built-in arithmetic skills: add, sub, mul, div (integer quotient) and mixed expressions.

Each item's operands are drawn with a digit count uniform in 1..digits. The eval partition is
fixed by a hash of the skill and the (canonical) operands, so no training or pretraining item
can ever be an eval item, whatever the seed.
"""

from __future__ import annotations

import hashlib
import random
import re
from functools import lru_cache
from typing import Callable, Iterator

from dataladder.skills.base import Format, Item, Skill, skill
from dataladder.skills.text import numeric_near_miss, text_key
from dataladder.verify import get_verifier

ARITHMETIC = ("add", "sub", "mul", "div", "mixed")  # the built-in arithmetic skills, in the order they are probed and evaluated
EVAL_SHARE = 0.15  # share of each skill's problem space reserved for evaluation
OP_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
OP_WORD = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}
COMMUTATIVE = {"add", "mul"}
MAX_DIGITS = 100  # the generator's operands have 1 to `digits` digits; an answer has up to 3× as many (mixed)


def in_eval_partition(skill_name: str, key: str) -> bool:
    """True when the problem `key` of `skill_name` belongs to the eval partition."""
    h = hashlib.blake2b(f"{skill_name}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < EVAL_SHARE


def operand(rng: random.Random, digits: int, nonzero: bool = False) -> int:
    k = rng.randint(1, digits)
    lo = 10 ** (k - 1) if k > 1 else (1 if nonzero else 0)
    return rng.randint(lo, 10**k - 1)


def partition_key(skill_name: str, key: str, operands: tuple[int, ...]) -> str:
    if skill_name in COMMUTATIVE:
        a, b = sorted(operands)
        return f"{a}{OP_SYMBOL[skill_name]}{b}"
    return key


def _binary_item(name: str, a: int, b: int) -> Item:
    sym = OP_SYMBOL[name]
    ans = {"add": a + b, "sub": a - b, "mul": a * b, "div": a // b if b else 0}[name]
    return Item(skill=name, key=f"{a}{sym}{b}", answer=str(ans), data={"operands": [a, b]})


def _mixed_item(rng: random.Random, digits: int) -> Item:
    n_ops = rng.choice([3, 4])  # two operands cannot mix precedence levels
    nums = [operand(rng, digits) for _ in range(n_ops)]
    ops = [rng.choice("+-*") for _ in range(n_ops - 1)]
    if "*" not in ops:  # a mixed expression mixes precedence levels
        ops[rng.randrange(len(ops))] = "*"
    if all(o == "*" for o in ops):
        ops[rng.randrange(len(ops))] = rng.choice("+-")
    expr = "".join(f"{n}{o}" for n, o in zip(nums, ops)) + str(nums[-1])
    return Item(skill="mixed", key=expr, answer=str(_evaluate(expr)), data={"operands": nums, "ops": ops})


def _evaluate(expr: str) -> int:
    """Evaluate +, -, * with the usual precedence (our own parser: grounding never calls eval)."""
    terms, signs, cur, sign = [], [], 1, 1
    num = ""
    pending = "*"
    for ch in expr + "+":
        if ch.isdigit():
            num += ch
            continue
        cur = cur * int(num) if pending == "*" else int(num)
        num = ""
        if ch == "*":
            pending = "*"
        else:
            terms.append(cur)
            signs.append(sign)
            sign, cur, pending = (1 if ch == "+" else -1), 1, "*"
    return sum(s * t for s, t in zip(signs, terms))


def sample_items(name: str, split: str, n: int, seed: int, digits: int, draw: Callable[[random.Random], Item]) -> list[Item]:
    """`n` distinct items of `split` ("train" or "eval"), deterministic for (name, seed, digits)."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    want_eval = split == "eval"
    rng = random.Random(f"{name}:{split}:{digits}:{seed}")
    seen: set[str] = set()
    out: list[Item] = []
    tries = misses = 0
    while len(out) < n:
        tries += 1
        misses += 1
        # the partition is spent when draws stop finding new items (a long run of misses) or take far too long
        if tries > 200 * n + 10_000 or misses > 20 * len(out) + 10_000:
            raise ValueError(f"skill {name!r} (digits={digits}) has fewer than {n} distinct {split} items")
        it = draw(rng)
        if it.key in seen or in_eval_partition(name, partition_key(name, it.key, tuple(it.data["operands"]))) != want_eval:
            continue
        misses = 0
        seen.add(it.key)
        out.append(it)
    return out


def _exam_prompt(it: Item) -> str:
    words = it.key
    for sym, word in OP_WORD.items():
        words = words.replace(sym, f" {word} ")
    if it.skill == "div":
        return f"Question: What is {words}, rounded down to a whole number?\nAnswer:"
    return f"Question: What is {words}?\nAnswer:"


def _arith_skill(name: str, digits: int, draw: Callable[[random.Random], Item], prereqs: tuple[str, ...], desc: str) -> Skill:
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be a whole number from 1 to {MAX_DIGITS} (the {name} generator's operands "
                         f"have 1 to `digits` digits), not {digits!r}")
    def items(split: str, n: int, seed: int) -> list[Item]:
        return sample_items(name, split, n, seed, digits, draw)

    def is_eval(it: Item) -> bool:
        return in_eval_partition(name, partition_key(name, it.key, tuple(it.data["operands"])))

    return Skill(
        name=name,
        items=items,
        formats={
            # an arithmetic answer is one line: generation stops at the first newline in both formats
            "native": Format(prompt=lambda it: f"{it.key}=", completion=lambda it: it.answer, stop=("\n",)),
            "exam": Format(prompt=_exam_prompt, completion=lambda it: f" {it.answer}", stop=("\n",)),
        },
        verify=get_verifier("numeric"),
        is_eval=is_eval,
        prerequisites=prereqs,
        max_new_tokens=2 * digits + 6,
        description=desc,
        verifier="numeric",
        spec=name,
        problem=lambda prompt: recover_item(name, text_key(prompt) if isinstance(prompt, list) else prompt),
        wrong=_near_misses,
        canonical=lambda it: partition_key(name, it.key, tuple(it.data["operands"])),
        features=_features,
    )


def _near_misses(it: Item, gold: str, rng: random.Random, others: list[str]) -> Iterator[str]:
    """A number next to the answer (off by one, two digits swapped, off by a few), in the gold's layout."""
    lead = gold[: len(gold) - len(gold.lstrip())]
    while True:
        yield lead + numeric_near_miss(it.answer, rng)


def _ndigits(x) -> str:
    return str(len(str(abs(int(x))))) if str(x).lstrip("-").isdigit() else "0"


def _features(it: Item) -> dict[str, str]:
    return {"operand_digits": "×".join(_ndigits(o) for o in it.data["operands"]), "answer_digits": _ndigits(it.answer)}


_WORD_OPS = [(re.compile(r"\bdivided\s+by\b"), "/"), (re.compile(r"\bplus\b"), "+"), (re.compile(r"\bminus\b"), "-"),
             (re.compile(r"\btimes\b"), "*"), (re.compile(r"[×x](?=\s*\d)"), "*"), (re.compile(r"÷"), "/")]
_EXPR = re.compile(r"\d+(?:\s*[-+*/]\s*\d+)+")


@lru_cache(maxsize=4096)  # curation's verify and decontaminate ask about the same prompts
def recover_item(skill_name: str, prompt: str) -> Item | None:
    """The arithmetic item a prompt asks about (`12+7=`, `What is 12 plus 7?`), whatever its wording, or None."""
    if skill_name not in OP_SYMBOL and skill_name != "mixed":
        return None
    text = prompt.lower()
    for pat, sym in _WORD_OPS:
        text = pat.sub(sym, text)
    m = _EXPR.search(text)
    if not m:
        return None
    expr = re.sub(r"\s+", "", m.group(0))
    nums = [int(x) for x in re.findall(r"\d+", expr)]
    ops = re.findall(r"[-+*/]", expr)
    if skill_name == "mixed":
        if "/" in ops or len(nums) < 3:
            return None
        return Item(skill="mixed", key=expr, answer=str(_evaluate(expr)), data={"operands": nums, "ops": ops})
    if len(nums) != 2 or ops[0] != OP_SYMBOL[skill_name] or (skill_name == "div" and nums[1] == 0):
        return None
    return _binary_item(skill_name, nums[0], nums[1])


def _binary(name: str, digits: int) -> Callable[[random.Random], Item]:
    def draw(rng: random.Random) -> Item:
        if name == "div":  # dividend = quotient*divisor + remainder, so quotients span `digits` digits
            b = max(2, operand(rng, digits, nonzero=True))
            q = operand(rng, digits)
            return _binary_item(name, q * b + rng.randrange(b), b)
        return _binary_item(name, operand(rng, digits), operand(rng, digits))

    return draw


@skill("add")
def add(digits: int = 2) -> Skill:
    return _arith_skill("add", digits, _binary("add", digits), (), "a+b")


@skill("sub")
def sub(digits: int = 2) -> Skill:
    return _arith_skill("sub", digits, _binary("sub", digits), ("add",), "a-b (may be negative)")


@skill("mul")
def mul(digits: int = 2) -> Skill:
    return _arith_skill("mul", digits, _binary("mul", digits), ("add",), "a*b")


@skill("div")
def div(digits: int = 2) -> Skill:
    return _arith_skill("div", digits, _binary("div", digits), ("mul", "sub"), "a/b, integer quotient")


@skill("mixed")
def mixed(digits: int = 1) -> Skill:
    return _arith_skill("mixed", digits, lambda rng: _mixed_item(rng, digits), ("add", "sub", "mul"), "a+b*c with precedence")


def random_item(name: str, rng: random.Random, digits: int, split: str = "train") -> Item:
    """One random item of `split` (repeats allowed): the pretraining corpus and synthetic data use it."""
    draw = (lambda r: _mixed_item(r, digits)) if name == "mixed" else _binary(name, digits)
    want_eval = split == "eval"
    while True:
        it = draw(rng)
        if in_eval_partition(name, partition_key(name, it.key, tuple(it.data["operands"]))) == want_eval:
            return it
