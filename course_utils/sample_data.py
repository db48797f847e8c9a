"""The course's own offline sample in Alpaca's schema, and the tiny model's pre-training text.

Nothing here is downloaded or copied: the rows are written for this course from the small fact
tables below. ``python -m course_utils.sample_data`` rewrites ``assets/alpaca_sample.jsonl``
(deterministic, so a rerun gives the same file). Notebook 02 explains the schema; notebook 07
asks the held-out capital questions that ``HELD_OUT_CAPITALS`` lists.

The design is deliberate. The tiny base model (built by :mod:`course_utils.tiny_model`) reads
plain text only: sentences about *every* country's capital and about the other tasks' subjects,
never the Alpaca template and never notebook 07's question wording. The sample teaches the format on the training
countries; notebook 07 then asks about countries the fine-tuning never showed, so the score
before vs. after measures instruction following, not memorised rows.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# (country, capital). The last HELD_OUT entries never appear as instructions in the sample.
CAPITALS: list[tuple[str, str]] = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Poland", "Warsaw"), ("Greece", "Athens"),
    ("Sweden", "Stockholm"), ("Norway", "Oslo"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"),
    ("Ireland", "Dublin"), ("Hungary", "Budapest"), ("Belgium", "Brussels"), ("Japan", "Tokyo"),
    ("China", "Beijing"), ("India", "New Delhi"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"),
    ("Ghana", "Accra"), ("Mexico", "Mexico City"), ("Cuba", "Havana"), ("Chile", "Santiago"),
    ("Argentina", "Buenos Aires"), ("Colombia", "Bogota"), ("Canada", "Ottawa"),
    ("Australia", "Canberra"), ("Russia", "Moscow"), ("Turkey", "Ankara"), ("Iran", "Tehran"),
    ("Iraq", "Baghdad"), ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("Nepal", "Kathmandu"),
    ("Morocco", "Rabat"), ("Senegal", "Dakar"), ("Ethiopia", "Addis Ababa"), ("Ukraine", "Kyiv"),
    ("Romania", "Bucharest"), ("Serbia", "Belgrade"), ("Croatia", "Zagreb"), ("Iceland", "Reykjavik"),
    ("Latvia", "Riga"), ("Estonia", "Tallinn"), ("Lithuania", "Vilnius"), ("Czechia", "Prague"),
    ("Slovakia", "Bratislava"), ("Bulgaria", "Sofia"), ("Qatar", "Doha"), ("Jordan", "Amman"),
    ("Lebanon", "Beirut"), ("Syria", "Damascus"), ("Tunisia", "Tunis"), ("Libya", "Tripoli"),
    ("Sudan", "Khartoum"), ("Uganda", "Kampala"), ("Zambia", "Lusaka"), ("Mali", "Bamako"),
    ("Niger", "Niamey"),
    # held out: only plain sentences mention these
    ("Peru", "Lima"), ("Cyprus", "Nicosia"), ("Malta", "Valletta"), ("Nigeria", "Abuja"),
    ("Angola", "Luanda"), ("Mongolia", "Ulaanbaatar"), ("Fiji", "Suva"), ("Oman", "Muscat"),
    ("Panama", "Panama City"), ("Bolivia", "Sucre"), ("Ecuador", "Quito"), ("Armenia", "Yerevan"),
]
HELD_OUT = 12
TRAIN_CAPITALS = CAPITALS[:-HELD_OUT]
HELD_OUT_CAPITALS = CAPITALS[-HELD_OUT:]

CAPITAL_INSTRUCTION = "What is the capital of {country}?"
CAPITAL_ANSWER = "The capital of {country} is {capital}."

_OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("early", "late"), ("light", "dark"),
    ("happy", "sad"), ("open", "closed"), ("full", "empty"), ("strong", "weak"), ("young", "old"),
    ("high", "low"), ("rich", "poor"), ("loud", "quiet"), ("wet", "dry"), ("hard", "soft"),
    ("thick", "thin"), ("near", "far"), ("clean", "dirty"), ("first", "last"), ("true", "false"),
]
_ANIMALS = [
    ("cat", "mammal"), ("dog", "mammal"), ("horse", "mammal"), ("whale", "mammal"),
    ("eagle", "bird"), ("sparrow", "bird"), ("penguin", "bird"), ("owl", "bird"),
    ("salmon", "fish"), ("shark", "fish"), ("trout", "fish"), ("tuna", "fish"),
    ("frog", "amphibian"), ("newt", "amphibian"), ("snake", "reptile"), ("lizard", "reptile"),
    ("turtle", "reptile"), ("crocodile", "reptile"), ("bee", "insect"), ("ant", "insect"),
]
_WORDS = ["apple", "river", "candle", "forest", "guitar", "window", "pepper", "ladder",
          "marble", "tunnel", "basket", "rocket", "garden", "hammer", "island", "jacket"]
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve"]

# Paragraph pools for the long tail of the length histogram (notebook 03).
_GUIDES: dict[str, list[str]] = {
    "keeping a vegetable garden": [
        "Start small: a single raised bed of about two square metres is enough for a first season.",
        "Choose a spot that gets at least six hours of direct sun, because most vegetables need it.",
        "Mix compost into the soil before planting; it feeds the plants and helps the soil hold water.",
        "Water deeply twice a week rather than a little every day, so that roots grow downwards.",
        "Plant fast crops such as radishes and lettuce between slow ones such as tomatoes.",
        "Pull weeds while they are young; they compete with your seedlings for light and water.",
        "Keep a notebook of what you planted and when, and read it before the next season.",
        "Rotate crops each year so that pests and diseases do not build up in the same bed.",
        "Harvest often: many plants, beans and courgettes among them, produce more when picked.",
        "Cover the soil with straw or leaves in hot weather to keep it cool and moist.",
    ],
    "learning to play the guitar": [
        "Tune the guitar every time you pick it up; practising out of tune trains the wrong ear.",
        "Learn three open chords first, such as G, C and D, and switch between them slowly.",
        "Practise for fifteen minutes every day instead of two hours once a week.",
        "Use a metronome at a slow tempo and raise it only when the passage feels easy.",
        "Press the strings just behind the fret, not on top of it, to get a clean note.",
        "Keep your fretting hand relaxed; tension makes you tired and slows you down.",
        "Learn a simple song you love early on, because it keeps the practice enjoyable.",
        "Record yourself once a week and listen back; you will hear what to fix next.",
        "Build calluses gradually, and stop when your fingertips start to hurt.",
        "Study a little theory, such as how major scales are built, to understand the chords.",
    ],
    "writing a clear email": [
        "Put the purpose of the email in the first sentence so the reader knows why it matters.",
        "Write a subject line that says what you need, for example a decision and a date.",
        "Keep paragraphs short, with one idea each, and leave a blank line between them.",
        "If you ask for something, say exactly what, from whom and by when.",
        "Remove words that add nothing, such as just, really and basically.",
        "Use a list when you give several options, so that each can be answered separately.",
        "Read the email aloud before sending it; awkward sentences become obvious.",
        "Check names, dates and attachments, since these are the mistakes readers notice first.",
        "Match the tone to the reader: friendly with colleagues, more formal with strangers.",
        "End with the next step, so that nobody has to guess what happens now.",
    ],
    "preparing for a long hike": [
        "Check the weather forecast the evening before and again on the morning of the hike.",
        "Tell someone your route and the time you expect to be back.",
        "Carry more water than you think you need, about half a litre per hour in warm weather.",
        "Wear boots you have already walked in; new boots cause blisters.",
        "Pack a map and a compass even if you also carry a phone with a map on it.",
        "Bring a warm layer and a rain jacket, since mountain weather changes quickly.",
        "Eat small snacks often instead of one large meal, to keep your energy steady.",
        "Start early so that you are off exposed ridges before afternoon storms.",
        "Walk at a pace at which you can still hold a conversation.",
        "Turn back if the conditions get worse; the mountain will still be there next week.",
    ],
    "saving money each month": [
        "Write down everything you spend for one month before making any plan.",
        "Sort the spending into needs, wants and savings, and look at the share of each.",
        "Pay yourself first: move a fixed amount into savings on the day you are paid.",
        "Cancel subscriptions you have not used in the last two months.",
        "Cook at home more often and plan meals before going to the shop.",
        "Wait a day before any purchase that was not planned; many wants fade overnight.",
        "Keep an emergency fund worth three months of basic costs before investing.",
        "Compare prices for large purchases and buy second-hand when quality allows it.",
        "Set a clear goal, such as a trip or a deposit, and track progress towards it.",
        "Review the plan every month and adjust it instead of giving up after one bad month.",
    ],
    "training a neural network": [
        "Split the data into training, validation and test sets before looking at any results.",
        "Start with a small model and make sure it can overfit a tiny batch of examples.",
        "Normalise the inputs so that every feature has a similar scale.",
        "Pick a learning rate by trying a few values on a log scale, such as 1e-4, 3e-4 and 1e-3.",
        "Watch both the training loss and the validation loss; a widening gap means overfitting.",
        "Use a warm-up for the learning rate when training large models from the start.",
        "Save checkpoints regularly so that a crash does not cost the whole run.",
        "Change one setting at a time and write down what you changed and what happened.",
        "Measure speed in examples or tokens per second to compare settings fairly.",
        "Keep a held-out set you never tune on, and report the final score on it once.",
    ],
}


def _capital_sentences(country: str, capital: str) -> list[str]:
    return [
        f"The capital of {country} is {capital}.",
        f"{capital} is the capital of {country}.",
        f"The capital city of {country} is {capital}.",
        f"Many people visit {capital}, the capital of {country}.",
    ]


def _row(instruction: str, output: str, input: str = "") -> dict[str, str]:
    return {"instruction": instruction, "input": input, "output": output}


def _a(noun: str) -> str:
    """The noun with its indefinite article: "a cat", "an ant"."""
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _plural(group: str) -> str:
    return group if group == "fish" else group + "s"


def _other_task_rows(rng: random.Random) -> list[dict[str, str]]:
    """Instruction rows of tasks other than capital questions (about 40 % with an input)."""
    rows: list[dict[str, str]] = []
    for word, opposite in _OPPOSITES:
        rows.append(_row("Give the opposite of the word.", opposite.capitalize() + ".", word))
        rows.append(_row(f"What is the opposite of {word}?",
                         f"The opposite of {word} is {opposite}."))
    for animal, group in _ANIMALS:
        rows.append(_row("Classify the animal as a mammal, bird, fish, amphibian, reptile or insect.",
                         f"{_a(animal).capitalize()} is {_a(group)}.", animal))
        rows.append(_row(f"Is {_a(animal)} a mammal?", _mammal_answer(animal)))
    for group in ("mammal", "bird", "fish", "reptile", "insect"):
        members = [a for a, g in _ANIMALS if g == group]
        rows.append(_row(f"Name two animals that are {_plural(group)}.",
                         f"The {members[0]} and the {members[1]} are both {_plural(group)}."))
        rows.append(_row(f"What kind of animal is {_a(members[-1])}?",
                         f"{_a(members[-1]).capitalize()} is {_a(group)}."))
    pairs = [(a, b) for a in range(7) for b in range(7)]
    used: set[tuple[int, int]] = set()
    for _ in range(22):
        a, b = rng.randint(0, 6), rng.randint(0, 6)
        if (a, b) in used:  # no row twice: a held-out copy of a training row would measure memory
            a, b = next(pair for pair in pairs if pair not in used)
        used.add((a, b))
        rows.append(_row("Add the two numbers and write the result in words.",
                         f"{_NUMBER_WORDS[a].capitalize()} plus {_NUMBER_WORDS[b]} is {_NUMBER_WORDS[a + b]}.",
                         f"{a} and {b}"))
    for _ in range(18):
        words = rng.sample(_WORDS, 4)
        rows.append(_row("Sort the words in alphabetical order.", ", ".join(sorted(words)) + ".",
                         ", ".join(words)))
    for _ in range(14):
        words = rng.sample(_WORDS, rng.randint(2, 6))
        n = len(words)
        rows.append(_row("How many words are in the list?",
                         f"There are {_NUMBER_WORDS[n]} words.", " ".join(words)))
    for topic, pool in _GUIDES.items():
        for n_par in (3, 8, 10):
            paragraphs = rng.sample(pool, n_par)
            if n_par == 3:
                text = " ".join(paragraphs)
            else:
                steps = "\n".join(f"{i + 1}. {p}" for i, p in enumerate(paragraphs))
                text = (f"Here is a guide to {topic} in {_NUMBER_WORDS[n_par]} steps, from the first "
                        f"day to the habits that last.\n{steps}\nTake the steps in order, and come "
                        "back to this list whenever you feel stuck.")
            rows.append(_row(f"Write a short guide to {topic}.", text))
        rows.append(_row("Summarise the advice in one sentence.",
                         f"The advice is about {topic}, taken one step at a time.",
                         " ".join(rng.sample(pool, 6))))
    return rows


def sample_rows(seed: int = 0) -> list[dict[str, str]]:
    """The shipped sample: capital questions for the training countries plus other tasks."""
    rng = random.Random(seed)
    rows = [_row(CAPITAL_INSTRUCTION.format(country=c), CAPITAL_ANSWER.format(country=c, capital=k))
            for c, k in TRAIN_CAPITALS]
    rows += _other_task_rows(rng)
    rng.shuffle(rows)
    return rows


def _plain_facts(rng: random.Random) -> list[str]:
    """Plain sentences about the other tasks' subjects: what the base model knows of them."""
    facts = []
    for a, b in _OPPOSITES:
        facts += [f"{a.capitalize()} is the opposite of {b}.", f"The opposite of {b} is {a}.",
                  f"The opposite of {a} is {b}."]
    for animal, group in _ANIMALS:
        facts += [f"The {animal} is {_a(group)}.", f"{_a(animal).capitalize()} is {_a(group)}."]
    for a in range(7):
        for b in range(7):
            facts.append(f"{_NUMBER_WORDS[a].capitalize()} plus {_NUMBER_WORDS[b]} is {_NUMBER_WORDS[a + b]}.")
    for _ in range(20):
        words = rng.sample(_WORDS, rng.randint(2, 6))
        facts.append(f"In alphabetical order, {', '.join(words)} become {', '.join(sorted(words))}.")
        facts.append(f"The list {' '.join(words)} has {_NUMBER_WORDS[len(words)]} words.")
    for pool in _GUIDES.values():
        facts += pool
    return facts


def _plain_questions() -> list[str]:
    """Questions answered in running text, as any prose has them (no template, no capitals)."""
    return ([f"What is the opposite of {a}? The opposite of {a} is {b}." for a, b in _OPPOSITES]
            + [f"What kind of animal is {_a(a)}? {_a(a).capitalize()} is {_a(g)}." for a, g in _ANIMALS])


def pretraining_texts(seed: int = 1, per_country: int = 6) -> list[str]:
    """What the tiny base model reads: plain-text documents of several sentences each.

    Facts about *every* capital (the held-out countries too) and about the other tasks' subjects,
    written as ordinary prose, with the odd question answered in the text ("Which city is the
    capital of Peru? The capital of Peru is Lima."). No document uses the instruction template,
    none asks "What is the capital of ...?" (notebook 07's wording) and none is a single sentence,
    so the base model knows facts and language but neither the "### Instruction:" format nor when
    to stop after one answer: fine-tuning has to teach both.
    """
    rng = random.Random(seed)
    facts = _plain_facts(rng) + _plain_questions()
    docs: list[str] = []
    # Each country gets documents that name it several times between unrelated sentences: the
    # model learns to copy a name it has read earlier, which answering a question needs.
    for country, capital in CAPITALS:
        for _ in range(per_country):
            about = rng.sample(_capital_sentences(country, capital), 3)
            about.append(f"Which city is the capital of {country}? The capital of {country} is {capital}.")
            sentences: list[str] = []
            for sentence in about:
                sentences += rng.sample(facts, rng.randint(0, 2)) + [sentence]
            docs.append(" ".join(sentences + rng.sample(facts, 2)))
    for _ in range(len(CAPITALS) * per_country // 3):
        docs.append(" ".join(rng.sample(facts, rng.randint(6, 9))))
    return docs


# Notebook 08's two-turn demo asks "Is a whale a mammal?", then "And an owl?": neither animal is in a
# follow-up, so the demo asks about a pair the conversations never showed.
_DEMO_ANIMALS = ("whale", "owl")


def _mammal_answer(animal: str) -> str:
    group = dict(_ANIMALS)[animal]
    return "Yes, it is a mammal." if group == "mammal" else f"No, {_a(animal)} is {_a(group)}."


def follow_up_conversations(seed: int = 2) -> list[list[dict[str, str]]]:
    """Notebook 08's two-turn conversations: a question, its answer, then a follow-up that means
    something only after the first turn ("And of Spain?", "Now in reverse order."), and its answer.

    Written for the course from the fact tables above, about training subjects only: no held-out
    capital, and neither animal of notebook 08's demo. The first turn uses the sample's own wording,
    so a learner can see a conversation as one of the sample's rows followed by a second question."""
    rng = random.Random(seed)

    def turns(*texts: str) -> list[dict[str, str]]:
        return [{"role": role, "content": text} for role, text in zip(("user", "assistant") * 2, texts)]

    conversations = []
    for (c1, k1), (c2, k2) in zip(*[iter(rng.sample(TRAIN_CAPITALS, 20))] * 2):  # 10 pairs of countries
        conversations.append(turns(CAPITAL_INSTRUCTION.format(country=c1), CAPITAL_ANSWER.format(country=c1, capital=k1),
                                   f"And of {c2}?", CAPITAL_ANSWER.format(country=c2, capital=k2)))
    animals = [a for a, _ in _ANIMALS if a not in _DEMO_ANIMALS]
    for a, b in zip(*[iter(rng.sample(animals, 12))] * 2):  # 6 pairs
        conversations.append(turns(f"Is {_a(a)} a mammal?", _mammal_answer(a), f"And {_a(b)}?", _mammal_answer(b)))
    for a, b in zip(*[iter(rng.sample(animals, 8))] * 2):  # 4 pairs
        ga, gb = dict(_ANIMALS)[a], dict(_ANIMALS)[b]
        conversations.append(turns(f"What kind of animal is {_a(a)}?", f"{_a(a).capitalize()} is {_a(ga)}.",
                                   f"And {_a(b)}?", f"{_a(b).capitalize()} is {_a(gb)}."))
    for (w1, o1), (w2, o2) in zip(*[iter(rng.sample(_OPPOSITES, 12))] * 2):  # 6 pairs
        conversations.append(turns(f"What is the opposite of {w1}?", f"The opposite of {w1} is {o1}.",
                                   f"And of {w2}?", f"The opposite of {w2} is {o2}."))
    for _ in range(4):
        words = rng.sample(_WORDS, 4)
        conversations.append(turns("Sort the words in alphabetical order.\n\n" + ", ".join(words),
                                   ", ".join(sorted(words)) + ".", "Now in reverse order.",
                                   ", ".join(sorted(words, reverse=True)) + "."))
    return conversations


def write_follow_ups(path: Path) -> Path:
    from .files import atomic_file

    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for messages in follow_up_conversations():
            f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    return path


def write_sample(path: Path) -> Path:
    from .files import atomic_file

    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in sample_rows():
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def held_out_questions() -> tuple[list[str], list[str]]:
    """Capital questions the fine-tuning never showed, and the capital each answer must name
    (notebook 07's before/after score)."""
    questions = [CAPITAL_INSTRUCTION.format(country=c) for c, _ in HELD_OUT_CAPITALS]
    return questions, [k for _, k in HELD_OUT_CAPITALS]


if __name__ == "__main__":
    for out in (write_sample(Path(__file__).parent / "assets" / "alpaca_sample.jsonl"),
                write_follow_ups(Path(__file__).parent / "assets" / "chat_follow_ups.jsonl")):
        print(f"wrote {out}")
