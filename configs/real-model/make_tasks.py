"""Writes tasks.jsonl beside it: the real-model study's four tasks (`python configs/real-model/make_tasks.py`).

capital (a city in <city>…</city> tags: the model knows many capitals, not the tag), word-sum (two-number word
problems answered GSM8K-style, `#### n`), person (a pretty JSON record of the three facts in the prompt) and
reverse (a word spelt backwards). 30 eval items a skill (`split: eval`), the rest train.
"""

import json
import random
from pathlib import Path

CAPITALS = """France Paris|Italy Rome|Spain Madrid|Germany Berlin|Japan Tokyo|China Beijing|Russia Moscow|Egypt Cairo
|Greece Athens|Portugal Lisbon|Ireland Dublin|Norway Oslo|Sweden Stockholm|Finland Helsinki|Denmark Copenhagen
|Poland Warsaw|Austria Vienna|Hungary Budapest|Belgium Brussels|Netherlands Amsterdam|Switzerland Bern|Canada Ottawa
|Mexico Mexico City|Brazil Brasília|Argentina Buenos Aires|Chile Santiago|Peru Lima|Colombia Bogotá|Venezuela Caracas
|Cuba Havana|India New Delhi|Pakistan Islamabad|Bangladesh Dhaka|Thailand Bangkok|Vietnam Hanoi|Indonesia Jakarta
|Philippines Manila|South Korea Seoul|North Korea Pyongyang|Turkey Ankara|Iran Tehran|Iraq Baghdad|Syria Damascus
|Lebanon Beirut|Israel Jerusalem|Jordan Amman|Saudi Arabia Riyadh|Kenya Nairobi|Ethiopia Addis Ababa|Nigeria Abuja
|Ghana Accra|Morocco Rabat|Algeria Algiers|Tunisia Tunis|Libya Tripoli|Sudan Khartoum|Uganda Kampala|Tanzania Dodoma
|Zimbabwe Harare|Zambia Lusaka|Angola Luanda|Senegal Dakar|Mali Bamako|Australia Canberra|New Zealand Wellington
|Ukraine Kyiv|Romania Bucharest|Bulgaria Sofia|Serbia Belgrade|Croatia Zagreb|Slovakia Bratislava|Slovenia Ljubljana
|Czech Republic Prague|Estonia Tallinn|Latvia Riga|Lithuania Vilnius|Belarus Minsk|Iceland Reykjavík
|Afghanistan Kabul|Nepal Kathmandu|Sri Lanka Colombo|Mongolia Ulaanbaatar|Malaysia Kuala Lumpur|Singapore Singapore
|Cambodia Phnom Penh|Laos Vientiane|Qatar Doha|Kuwait Kuwait City|Oman Muscat|Yemen Sanaa|Georgia Tbilisi
|Armenia Yerevan|Azerbaijan Baku|Kazakhstan Astana|Uzbekistan Tashkent|Ecuador Quito|Bolivia Sucre|Uruguay Montevideo
|Paraguay Asunción|Jamaica Kingston|Panama Panama City|Costa Rica San José|Honduras Tegucigalpa|Nicaragua Managua"""
WORDS = """apple house river green table window garden yellow summer winter pencil orange silver basket candle doctor
market planet rocket monkey forest bridge castle dragon finger flower guitar hammer island jacket kitten ladder
mirror needle pillow rabbit saddle ticket turtle violin wallet anchor butter cheese circle dinner engine father
frozen golden honest insect jungle lemon magnet nature office parrot pepper puzzle quiet rubber shadow spider
stream sunset tomato travel valley wonder yogurt zebra button carpet coffee cookie desert donkey empire falcon
gentle harbor helmet jigsaw kettle letter marble meadow muffin napkin oyster pirate poetry ribbon salmon school
sister spring stable sugar thunder timber tunnel velvet walnut weasel whisper wizard""".split()
NAMES = "Ada Ben Carla Dev Elena Farid Grace Hugo Iris Jonas Kira Leo Maya Nils Omar Priya Quinn Rosa Sami Tara".split()
CITIES = "Paris Lima Oslo Cairo Tokyo Rome Berlin Dublin Quito Seoul Nairobi Lisbon".split()
THINGS = [("apples", "buys", "more"), ("stamps", "gets", "more"), ("marbles", "finds", "more"), ("books", "is given", "more"),
          ("coins", "earns", "more"), ("shells", "collects", "more")]
EVAL = 30


def lines():
    rng = random.Random(0)
    caps = []
    for c in CAPITALS.replace("\n", "").split("|"):
        words = c.strip().split(" ")
        # country names of one or two words; the city is the rest
        k = 2 if " ".join(words[:2]) in {"South Korea", "North Korea", "Saudi Arabia", "New Zealand", "Czech Republic",
                                       "Sri Lanka", "Costa Rica"} else 1
        caps.append((" ".join(words[:k]), " ".join(words[k:])))
    rng.shuffle(caps)
    for i, (country, city) in enumerate(caps):
        yield {"skill": "capital", "verifier": f"regex:<city>\\s*{city}\\s*</city>", "answer": city,
               "split": "eval" if i < EVAL else "train",
               "messages": [{"role": "user", "content": f"What is the capital of {country}? "
                                                        "Answer with the city in <city></city> tags."},
                            {"role": "assistant", "content": f"<city>{city}</city>"}]}
    seen = set()
    i = 0
    while i < 190:
        name, (thing, verb, more) = rng.choice(NAMES), rng.choice(THINGS)
        a, b = rng.randint(10, 49), rng.randint(10, 49)
        if (a, b, thing) in seen:
            continue
        seen.add((a, b, thing))
        yield {"skill": "word-sum", "verifier": "numeric:gsm8k", "split": "eval" if i < EVAL else "train",
               "messages": [{"role": "user", "content": f"{name} has {a} {thing} and {verb} {b} {more}. "
                                                        f"How many {thing} does {name} have now?"},
                            {"role": "assistant", "content": f"{name} has {a} + {b} = {a + b} {thing}.\n#### {a + b}"}]}
        i += 1
    people = [(n, age, c) for n in NAMES for age in (19, 24, 31, 36, 42, 57, 63) for c in CITIES]
    rng.shuffle(people)
    schema = {"type": "object", "required": ["name", "age", "city"],
              "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}}}
    for i, (n, age, c) in enumerate(people[:190]):
        yield {"skill": "person", "verifier": "json-schema", "schema": schema, "split": "eval" if i < EVAL else "train",
               "messages": [{"role": "user", "content": f"Describe {n}, aged {age}, from {c}, as a JSON object "
                                                        "with the keys name, age and city."},
                            {"role": "assistant", "content": json.dumps({"name": n, "age": age, "city": c}, indent=2)}]}
    words = list(dict.fromkeys(WORDS))
    rng.shuffle(words)
    for i, w in enumerate(words):
        yield {"skill": "reverse", "verifier": "exact", "split": "eval" if i < EVAL else "train",
               "messages": [{"role": "user", "content": f"Spell the word {w} backwards."},
                            {"role": "assistant", "content": w[::-1]}]}


if __name__ == "__main__":
    out = Path(__file__).with_name("tasks.jsonl")
    rows = list(lines())
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} items to {out}")
