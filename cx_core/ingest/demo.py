"""The built-in demo store: a deterministic, synthetic apparel shop.

``generate_demo`` builds two years of customers, order lines and product reviews
for a fictional UK clothing retailer.  Every customer belongs to one of five
hidden groups (see :data:`GROUPS`) that drive both behaviour (how often, how much
and what they buy, whether they return things or stop buying) and the tone and
topics of their reviews.  The groups are returned separately in
``DemoStore.truth`` and never written with the data files, so tests can score
whether later analysis recovers them without handing them over.

The same ``seed`` always gives identical frames and byte-identical CSV files.
All personal data is fake: names come from small built-in lists, e-mail
addresses use the reserved ``example.*`` domains and phone numbers come from
Ofcom's ranges reserved for drama.

A few review texts and one product name deliberately contain HTML- and
SQL-looking text (``<b>love it</b>``, ``"; DROP TABLE orders; --``) so that
escaping downstream gets exercised.  They are ordinary text.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DemoStore", "GROUPS", "generate_demo", "write_demo"]

# ---------------------------------------------------------------------------
# Groups and their behaviour
# ---------------------------------------------------------------------------

GROUPS: tuple[str, ...] = (
    "loyal_premium",
    "bargain_hunters",
    "unhappy_delivery",
    "new_customers",
    "fit_returners",
)
"""The hidden customer groups, in a fixed order (index = group code)."""

LOYAL, BARGAIN, UNHAPPY, NEW, RETURNER = range(5)

# Share of customers per group (unequal on purpose).
GROUP_SHARE = np.array([0.14, 0.30, 0.16, 0.18, 0.22])

HISTORY_DAYS = 730  # two years of orders, ending on ``end``
CHURN_QUIET_DAYS = 215  # unhappy_delivery: last order at least this long before end
NEW_WINDOW_DAYS = 90  # new_customers: signed up within this many days of end

CATEGORIES: tuple[str, ...] = (
    "dresses",
    "tops",
    "jeans",
    "knitwear",
    "shoes",
    "accessories",
    "outerwear",
)
TIERS: tuple[str, ...] = ("budget", "core", "premium")

# Category preferences per group (rows: groups, columns: CATEGORIES).
CATEGORY_PREF = np.array(
    [
        [0.22, 0.14, 0.12, 0.16, 0.14, 0.10, 0.12],  # loyal_premium
        [0.15, 0.28, 0.15, 0.12, 0.10, 0.15, 0.05],  # bargain_hunters
        [0.18, 0.20, 0.15, 0.12, 0.13, 0.12, 0.10],  # unhappy_delivery
        [0.20, 0.25, 0.12, 0.10, 0.13, 0.12, 0.08],  # new_customers
        [0.30, 0.15, 0.25, 0.05, 0.15, 0.02, 0.08],  # fit_returners
    ]
)
# Price-tier preferences per group (columns: TIERS).
TIER_PREF = np.array(
    [
        [0.05, 0.35, 0.60],
        [0.70, 0.26, 0.04],
        [0.30, 0.50, 0.20],
        [0.30, 0.52, 0.18],
        [0.30, 0.50, 0.20],
    ]
)
ORDERS_PER_YEAR = np.array([8.0, 4.5, 5.0, 0.0, 5.0])  # new_customers: 1-2 orders
MIN_ORDERS = np.array([3, 1, 2, 1, 2])
EXTRA_LINES = np.array([1.2, 1.3, 0.8, 0.5, 1.4])  # Poisson mean of lines beyond the first
MULTI_QTY = np.array([0.08, 0.25, 0.08, 0.06, 0.15])  # chance a line has quantity > 1
RETURN_RATE = np.array([0.04, 0.06, 0.07, 0.05, 0.45])  # chance a line is sent back
PROMO_RATE = np.array([0.05, 0.45, 0.05, 0.15, 0.05])  # discount code outside sales
SALE_AFFINITY = np.array([0.2, 4.0, 0.2, 0.2, 0.4])  # extra weight on sale days
REVIEW_RATE = np.array([0.62, 0.48, 0.68, 0.45, 0.58])  # share of customers who review
EXTRA_REVIEWS = np.array([1.3, 0.7, 0.5, 0.15, 0.9])  # Poisson mean of reviews beyond one
AGE_MEAN_SD = np.array([[45, 10], [33, 10], [40, 12], [29, 8], [35, 10]])
RATING_OFFSET = np.array([0.35, 0.05, -0.35, 0.15, 0.0])

SALE_DISCOUNT = 0.30

# ---------------------------------------------------------------------------
# Fake people and places
# ---------------------------------------------------------------------------

FIRST_NAMES = (
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Sophie",
    "Grace",
    "Lily",
    "Freya",
    "Emily",
    "Chloé",
    "Ella",
    "Poppy",
    "Zoë",
    "Hannah",
    "Siobhán",
    "Aisha",
    "Priya",
    "Fatima",
    "Niamh",
    "Charlotte",
    "Lucy",
    "Ruby",
    "Evie",
    "Jessica",
    "Maya",
    "Oliver",
    "James",
    "Harry",
    "Noah",
    "Jack",
    "Leo",
    "Arjun",
    "Mohammed",
    "Thomas",
    "Daniel",
    "Seán",
    "José",
    "Samuel",
    "Joseph",
    "Kai",
    "Ethan",
)
LAST_NAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Hughes",
    "O'Brien",
    "Murphy",
    "Kelly",
    "Campbell",
    "Stewart",
    "Begum",
    "Ali",
    "Nowak",
    "Kowalski",
    "Singh",
    "Edwards",
    "Turner",
    "Harris",
    "Martin",
    "Cooper",
    "Ward",
    "Morris",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
# (city, country, weight)
CITIES = (
    ("London", "United Kingdom", 20),
    ("Manchester", "United Kingdom", 8),
    ("Birmingham", "United Kingdom", 7),
    ("Leeds", "United Kingdom", 5),
    ("Glasgow", "United Kingdom", 5),
    ("Edinburgh", "United Kingdom", 4),
    ("Bristol", "United Kingdom", 4),
    ("Liverpool", "United Kingdom", 4),
    ("Cardiff", "United Kingdom", 3),
    ("Belfast", "United Kingdom", 3),
    ("Newcastle", "United Kingdom", 3),
    ("Brighton", "United Kingdom", 3),
    ("Nottingham", "United Kingdom", 3),
    ("Sheffield", "United Kingdom", 3),
    ("Norwich", "United Kingdom", 2),
    ("York", "United Kingdom", 2),
    ("Dublin", "Ireland", 5),
    ("Cork", "Ireland", 2),
    ("Galway", "Ireland", 1),
    ("Paris", "France", 1),
    ("Amsterdam", "Netherlands", 1),
    ("Berlin", "Germany", 1),
)
# Ofcom ranges reserved for drama: 1000 numbers each.
PHONE_RANGES = ("+44 7700 900", "+44 1632 960", "+44 113 496 0", "+44 20 7946 0")

# ---------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------

# category -> (sku prefix, base price, [(noun, plural?)], materials by tier)
CATALOGUE_SPEC: dict[str, tuple[str, float, list[tuple[str, bool]], tuple[list[str], ...]]] = {
    "dresses": (
        "DRS",
        45.0,
        [
            ("Midi Dress", False),
            ("Wrap Dress", False),
            ("Shirt Dress", False),
            ("Slip Dress", False),
            ("Maxi Dress", False),
        ],
        (["Jersey", "Poly", "Printed"], ["Cotton", "Viscose", "Crepe"], ["Silk", "Linen", "Satin"]),
    ),
    "tops": (
        "TOP",
        22.0,
        [("Tee", False), ("Blouse", False), ("Vest Top", False), ("Shirt", False), ("Bodysuit", False)],
        (["Basic", "Ribbed", "Jersey"], ["Cotton", "Striped", "Poplin"], ["Silk", "Organic Cotton", "Linen"]),
    ),
    "jeans": (
        "JNS",
        50.0,
        [
            ("Skinny Jeans", True),
            ("Straight Jeans", True),
            ("Wide-Leg Jeans", True),
            ("Mom Jeans", True),
            ("Bootcut Jeans", True),
        ],
        (
            ["Stretch", "Washed", "Everyday"],
            ["Indigo", "Vintage Wash", "Black"],
            ["Selvedge", "Raw Denim", "Japanese Denim"],
        ),
    ),
    "knitwear": (
        "KNT",
        48.0,
        [("Jumper", False), ("Cardigan", False), ("Roll Neck", False), ("Knitted Vest", False)],
        (
            ["Acrylic", "Chunky", "Cosy"],
            ["Cotton", "Cable Knit", "Lambswool"],
            ["Cashmere", "Merino", "Alpaca"],
        ),
    ),
    "shoes": (
        "SHO",
        65.0,
        [
            ("Trainers", True),
            ("Ankle Boots", True),
            ("Loafers", True),
            ("Sandals", True),
            ("Ballet Flats", True),
        ],
        (
            ["Canvas", "Faux Leather", "Everyday"],
            ["Suede", "Leather", "Chelsea"],
            ["Italian Leather", "Calf Leather", "Handmade"],
        ),
    ),
    "accessories": (
        "ACC",
        25.0,
        [("Tote Bag", False), ("Scarf", False), ("Belt", False), ("Beanie", False), ("Crossbody Bag", False)],
        (
            ["Canvas", "Printed", "Knitted"],
            ["Leather", "Wool", "Woven"],
            ["Silk", "Cashmere", "Italian Leather"],
        ),
    ),
    "outerwear": (
        "OUT",
        95.0,
        [("Trench Coat", False), ("Puffer Jacket", False), ("Denim Jacket", False), ("Wool Coat", False)],
        (
            ["Padded", "Lightweight", "Showerproof"],
            ["Quilted", "Cotton", "Borg"],
            ["Wool-Blend", "Cashmere-Blend", "Waxed"],
        ),
    ),
}
TIER_PRICE = (0.55, 1.0, 2.3)
TIER_CODE = ("B", "C", "P")
STYLE_NAMES = (
    "Ada",
    "Bea",
    "Cleo",
    "Dora",
    "Edie",
    "Flo",
    "Greta",
    "Hattie",
    "Iris",
    "Juno",
    "Kit",
    "Lola",
    "Mabel",
    "Nell",
    "Orla",
    "Pia",
    "Rosa",
    "Sadie",
    "Tess",
    "Vera",
)
HOSTILE_PRODUCT = 'The "Everyday" Tee <Limited> & Co, 2-pack'
ITEMS_PER_TIER = (6, 7, 4)  # per category, 17 items x 7 categories = 119 products


def build_catalogue() -> pd.DataFrame:
    """The store's fixed product catalogue (the same for every seed).

    Returns one row per product: ``sku``, ``product``, ``category``, ``tier``,
    ``noun`` (the kind of item, used in review text), ``plural`` and
    ``list_price`` (GBP).  One product carries :data:`HOSTILE_PRODUCT` as its name.
    """
    rng = np.random.default_rng(20260930)
    rows: list[dict[str, object]] = []
    for cat, (prefix, base, nouns, materials) in CATALOGUE_SPEC.items():
        seen: set[str] = set()
        for t, count in enumerate(ITEMS_PER_TIER):
            for k in range(count):
                while True:
                    noun, plural = nouns[rng.integers(len(nouns))]
                    mat = materials[t][rng.integers(len(materials[t]))]
                    style = STYLE_NAMES[rng.integers(len(STYLE_NAMES))]
                    name = f"{style} {mat} {noun}"
                    if name not in seen:
                        seen.add(name)
                        break
                raw = base * TIER_PRICE[t] * rng.uniform(0.8, 1.25)
                price = max(round(raw) - 0.01, 4.99) if rng.random() < 0.8 else float(round(raw))
                rows.append(
                    {
                        "sku": f"{prefix}-{TIER_CODE[t]}{k + 1:02d}",
                        "product": name,
                        "category": cat,
                        "tier": t,
                        "noun": noun.lower(),
                        "plural": plural,
                        "list_price": round(price, 2),
                    }
                )
    cat = pd.DataFrame(rows)
    i = cat.index[(cat["category"] == "tops") & (cat["tier"] == 0)][0]
    cat.loc[i, ["product", "noun", "plural"]] = [HOSTILE_PRODUCT, "tee", False]
    return cat


# ---------------------------------------------------------------------------
# Review text: sentence pools per (aspect, polarity)
# ---------------------------------------------------------------------------
# Slots: {item} (e.g. "dress", "jeans"), {the_item}, {product}, {size},
# {price}, {days}, {weeks}.  Templates avoid verb agreement with {item}.

SENTENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("price", "pos"): (
        "Great value for money.",
        "Really good value for what you pay.",
        "Got it in the sale for £{price} and it was an absolute bargain.",
        "Can't believe how cheap this was.",
        "At this price I'd happily buy another {item} in a different colour.",
        "Brilliant price, especially with the discount code.",
        "Cheaper than the high street and just as nice.",
        "For £{price} you really can't go wrong.",
        "Snapped it up in the sale, best bargain I've had all year.",
        "Always worth waiting for the sale here, the prices are unbeatable.",
        "Bought two because the price was so good.",
        "Not cheap, but worth every penny.",
    ),
    ("price", "neg"): (
        "Way overpriced for what it is.",
        "Not worth £{price}, I've seen better for half the price.",
        "The price went up the week after I bought it, annoying.",
        "Far too expensive for what you get.",
        "Paid full price and it was in the sale two days later.",
        "Shipping costs made it a lot less of a deal.",
        "I'd only buy it again if it was heavily discounted.",
        "Honestly a bit of a rip off at this price.",
        "Expected more for the money.",
    ),
    ("price", "mix"): (
        "Cheap but cheerful, does the job.",
        "It's cheap and it feels cheap, but for the price I'm not complaining.",
        "Not the best quality but you get what you pay for.",
        "Cheap, but the stitching came loose after a few washes.",
        "Good price, though the fabric is thinner than I expected.",
        "For the money it's fine, just don't expect luxury.",
        "Bargain price, a bit flimsy, but I'd still buy it again.",
        "Wouldn't pay full price for it, but in the sale it's a steal.",
        "Cheap but it looks more expensive than it is.",
        "Basic {item}, nothing special, but great for the price.",
    ),
    ("quality", "pos"): (
        "The quality is outstanding, you can feel it the moment you pick it up.",
        "Beautiful fabric and really well made.",
        "The stitching is perfect and it has washed really well.",
        "Gorgeous {item}, the material feels so luxurious.",
        "Lovely quality, far better than other shops I've tried.",
        "You can tell the {product} will last for years.",
        "Even nicer in person than in the photos.",
        "I've worn {the_item} loads and there's not a single bobble or loose thread.",
        "Really premium feel, the finish is lovely.",
        "Excellent craftsmanship, as always from this brand.",
        "Soft, heavy fabric that hangs beautifully.",
    ),
    ("quality", "neg"): (
        "The fabric is thin and see-through.",
        "Fell apart after two washes.",
        "The stitching started coming undone within a week.",
        "Really poor quality, looks nothing like the pictures.",
        "Bobbled after wearing it once.",
        "The colour faded badly in the wash.",
        "Feels cheap and scratchy against the skin.",
        "A seam split the first time I wore {the_item}.",
        "The zip broke almost straight away.",
    ),
    ("fit", "pos"): (
        "Fits perfectly, true to size.",
        "I ordered my usual size {size} and it fits like a glove.",
        "The cut is really flattering.",
        "Perfect fit, and the length is just right.",
        "Sizing is spot on, no need to size up or down.",
        "Finally a {item} that fits me properly.",
        "Tailored beautifully, fits like it was made for me.",
        "Great fit across the shoulders and not too tight anywhere.",
        "True to size and so comfortable.",
    ),
    ("fit", "neg"): (
        "Runs really small, I had to send it back.",
        "Way too tight, I'd say size up at least one.",
        "I ordered size {size} as usual and couldn't even get it on.",
        "The sizing is all over the place, had to return it.",
        "Massive on me, the size guide is way off.",
        "Came up much smaller than my usual size {size}, sent it back for a refund.",
        "Too short in the body and tight under the arms.",
        "Ordered two sizes to be safe and neither of them fit, both went back.",
        "Lovely {item} but the fit is just wrong, it's going back.",
        "Sleeves are far too long and the waist is baggy.",
        "Third time I've had to return something because of the sizing.",
    ),
    ("delivery", "pos"): (
        "Arrived the next day, super quick delivery.",
        "Delivery was fast and the courier was friendly.",
        "Came earlier than expected.",
        "Tracking was accurate and it turned up right on time.",
        "Really quick dispatch, had it within two days.",
        "Ordered on Sunday night and it was here by Tuesday.",
        "Speedy delivery, no complaints there.",
        "Free delivery and it still came quickly.",
    ),
    ("delivery", "neg"): (
        "Took {days} days to arrive, absolutely ridiculous.",
        "My parcel was lost and nobody seems to know where it is.",
        "Still waiting for my order after {weeks} weeks.",
        "The courier marked it as delivered but it never arrived.",
        "Delivery was late, so I missed the event I bought it for.",
        "Tracking said out for delivery five days in a row.",
        "It was left on the doorstep in the pouring rain.",
        "Delivered to the wrong address and I had to chase it myself.",
        "Paid for next day delivery and it took over a week.",
        "Worst delivery experience I've ever had.",
    ),
    ("service", "pos"): (
        "Customer service were lovely and sorted everything quickly.",
        "Had a question about sizing and got a helpful reply within an hour.",
        "The returns process was easy and the refund came through fast.",
        "Great customer service, really friendly team.",
        "They went above and beyond to help me.",
        "Exchange was painless, the staff were brilliant.",
        "Live chat was quick and actually useful.",
        "Always a pleasure dealing with this shop.",
    ),
    ("service", "neg"): (
        "Customer service is a joke, nobody answers emails.",
        "I've been on hold for hours and still no refund.",
        "Contacted support three times and got three different answers.",
        "The live chat just sends you round in circles.",
        "Still waiting on my refund after {weeks} weeks.",
        "Nobody ever replied to my complaint.",
        "Rude staff on the phone who didn't care at all.",
        "They closed my ticket without fixing anything.",
        "Won't be shopping here again after the way I was treated.",
        "Absolutely useless customer service.",
    ),
    ("packaging", "pos"): (
        "Beautifully packaged, felt like opening a gift.",
        "Lovely packaging, and all recyclable too.",
        "Came wrapped in tissue paper with a handwritten thank you note.",
        "Nicely packed and arrived in perfect condition.",
        "The box was so pretty I kept it.",
        "Neat packaging, no unnecessary plastic.",
        "Arrived well wrapped and not a crease on it.",
        "Really nice unboxing experience.",
    ),
    ("packaging", "neg"): (
        "Arrived in a torn bag with {the_item} hanging out.",
        "Packaging was crushed and the box was soaking wet.",
        "So much plastic for one small order.",
        "Came completely creased, just stuffed in a bag.",
        "The parcel had clearly been opened before it got to me.",
        "Badly packed, and {the_item} arrived marked and dusty.",
        "Flimsy packaging, it's a wonder it arrived in one piece.",
        "There was no packing slip or returns label in the parcel.",
    ),
    ("general", "pos"): (
        "First order and really impressed so far.",
        "First time buying from here, will definitely order again.",
        "So far so good.",
        "Nice first impression.",
        "Lovely {item}, happy with my first purchase.",
        "Looks just like the pictures.",
        "Haven't worn it yet but it looks great.",
        "Does exactly what I needed.",
        "Quick and easy to order, looking forward to wearing it.",
        "Pleasantly surprised for a first order.",
    ),
    ("loyalty", "pos"): (
        "I've been shopping here for years and it never disappoints.",
        "Another lovely piece for my wardrobe, this brand never lets me down.",
        "Been a customer for years and the standard has never slipped.",
        "I must have bought a dozen things from here by now.",
        "Ordered it in two colours, as usual.",
        "My favourite shop, hands down.",
        "Yet another great purchase from my go-to brand.",
        "I keep coming back season after season.",
        "Always my first stop when I need something special.",
    ),
    ("general", "neg"): (
        "Really disappointed overall.",
        "Not what I expected at all.",
        "Wouldn't recommend.",
        "Such a letdown.",
        "Not happy with this order.",
        "Expected so much better.",
        "Regret buying from here.",
        "Very disappointing experience from start to finish.",
    ),
}
POLARITY_SCORE = {"pos": 1.0, "mix": 0.2, "neg": -1.0}
ASPECT_SCORE = {("fit", "neg"): -0.6}  # fit complaints are rarely furious
SENTENCE_KEYS: tuple[tuple[str, str], ...] = tuple(SENTENCES)

# Topic profile per group: (aspect, polarity) -> weight.
PROFILES: tuple[dict[tuple[str, str], float], ...] = (
    {
        ("quality", "pos"): 0.36,
        ("fit", "pos"): 0.26,
        ("loyalty", "pos"): 0.12,
        ("service", "pos"): 0.08,
        ("packaging", "pos"): 0.05,
        ("delivery", "pos"): 0.05,
        ("price", "pos"): 0.05,
        ("price", "neg"): 0.03,
    },
    {
        ("price", "pos"): 0.42,
        ("price", "mix"): 0.26,
        ("quality", "neg"): 0.07,
        ("delivery", "pos"): 0.08,
        ("fit", "pos"): 0.06,
        ("general", "pos"): 0.04,
        ("packaging", "neg"): 0.03,
        ("quality", "pos"): 0.04,
    },
    {
        ("delivery", "neg"): 0.42,
        ("service", "neg"): 0.35,
        ("packaging", "neg"): 0.08,
        ("general", "neg"): 0.07,
        ("price", "neg"): 0.04,
        ("quality", "pos"): 0.04,
    },
    {
        ("general", "pos"): 0.40,
        ("packaging", "pos"): 0.28,
        ("delivery", "pos"): 0.18,
        ("quality", "pos"): 0.06,
        ("fit", "pos"): 0.04,
        ("price", "pos"): 0.04,
    },
    {
        ("fit", "neg"): 0.52,
        ("quality", "pos"): 0.12,
        ("service", "pos"): 0.10,
        ("service", "neg"): 0.07,
        ("general", "neg"): 0.05,
        ("fit", "pos"): 0.05,
        ("delivery", "pos"): 0.04,
        ("price", "mix"): 0.05,
    },
)
_PROFILE_CUM = tuple((list(p), list(np.cumsum(list(p.values())).tolist())) for p in PROFILES)
# Sentences per review: 1 + Binomial(n, p), per group.
SENTENCE_COUNT = ((3, 0.55), (3, 0.40), (3, 0.55), (1, 0.35), (3, 0.45))
OFF_GROUP = 0.10  # chance a sentence is drawn from any pool, ignoring the group

OPENERS = (
    "Bought this for a wedding.",
    "Treated myself to the {product}.",
    "Got this for my holiday.",
    "I bought the {product} last month.",
    "Ordered the {item} in black.",
    "Needed a new {item} for work.",
    "Bought as a gift for my sister.",
    "Picked this up for autumn.",
)
# Joining words where the tone flips, by the tone of the sentence that follows.
CONNECTORS = {
    "neg": ("But ", "However, ", "Only downside: ", "Sadly, ", "Then again, "),
    "pos": ("That said, ", "On the plus side, ", "To be fair, ", "But ", "Still, "),
}
CLOSERS_POS = (
    "Would recommend!",
    "Will be buying more.",
    "10/10.",
    "Love it.",
    "Highly recommend.",
    "Very happy.",
)
CLOSERS_NEG = ("Avoid.", "Never again.", "Would not recommend.", "Not impressed.", "Really fed up.")
SHORT_POS = ("ok", "Good", "fine.", "Love it!", "\U0001f44d", "Great", "nice", "A+")
SHORT_NEG = ("meh", "rubbish", "no.", "bad", "Not good", "\U0001f44e", "poor")
TITLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("price", "pos"): ("Great value", "Bargain!", "Brilliant price", "Worth it", "Sale steal"),
    ("price", "neg"): ("Overpriced", "Not worth the money", "Too expensive", "Rip off"),
    ("price", "mix"): ("Cheap but ok", "You get what you pay for", "Fine for the price", "Does the job"),
    ("quality", "pos"): ("Beautiful quality", "Gorgeous", "So well made", "Love it", "Luxurious"),
    ("quality", "neg"): ("Poor quality", "Fell apart", "Cheaply made", "Disappointing"),
    ("fit", "pos"): ("Perfect fit", "True to size", "So flattering", "Fits like a glove"),
    ("fit", "neg"): ("Runs small", "Sizing is off", "Had to send it back", "Doesn't fit", "Size up!"),
    ("delivery", "pos"): ("Fast delivery", "Quick!", "Arrived next day", "Speedy"),
    ("delivery", "neg"): (
        "Never arrived",
        "Late delivery",
        "Lost parcel",
        "Still waiting",
        "Terrible delivery",
    ),
    ("service", "pos"): ("Great service", "Helpful team", "Easy returns", "Lovely staff"),
    ("service", "neg"): ("Awful customer service", "No reply", "Still no refund", "Useless support"),
    ("packaging", "pos"): ("Lovely packaging", "Beautifully wrapped", "Nice unboxing", "Arrived perfect"),
    ("packaging", "neg"): ("Damaged parcel", "Badly packed", "Too much plastic"),
    ("general", "pos"): ("Good first order", "Happy", "So far so good", "Nice"),
    ("general", "neg"): ("Disappointed", "Not happy", "Letdown", "Meh"),
    ("loyalty", "pos"): ("Never disappoints", "Favourite shop", "Another winner", "Loyal customer"),
}
MISSPELLINGS = {
    "definitely": "definately",
    "received": "recieved",
    "really": "realy",
    "disappointed": "dissapointed",
    "beautiful": "beautifull",
    "absolutely": "absolutly",
    "quality": "qaulity",
    "delivery": "delivary",
    "expected": "expeced",
    "recommend": "reccomend",
    "arrived": "arived",
}
HOSTILE_HTML = "<b>love it</b>"
HOSTILE_SQL = '"; DROP TABLE orders; --'


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoStore:
    """A generated demo store.

    ``customers``, ``orders`` and ``reviews`` hold exactly the columns and values
    written to the CSV files (dates as ISO strings).  ``truth`` (columns
    ``customer_id``, ``group``) is the hidden group of every customer; it is never
    written with the data files.
    """

    customers: pd.DataFrame
    orders: pd.DataFrame
    reviews: pd.DataFrame
    truth: pd.DataFrame

    def truth_map(self) -> dict[str, str]:
        """``customer_id`` → hidden group name."""
        return dict(zip(self.truth["customer_id"], self.truth["group"]))


def generate_demo(seed: int = 7, n_customers: int = 3000, end: str = "2026-09-30") -> DemoStore:
    """Generate the demo store deterministically from ``seed``.

    Two years of orders end on ``end`` (a date, inclusive).  About 40-70 % of each
    group write reviews; some write several.  Runs in well under a second or two
    for 3000 customers.
    """
    if n_customers < len(GROUPS):
        raise ValueError(f"n_customers must be at least {len(GROUPS)}")
    rng = np.random.default_rng(seed)
    end_day = pd.Timestamp(end).normalize()
    day0 = end_day - pd.Timedelta(days=HISTORY_DAYS - 1)
    catalogue = build_catalogue()

    group = _assign_groups(rng, n_customers)
    ids = _ids("C", np.arange(1, n_customers + 1), max(5, len(str(n_customers))))
    signup, win_start, win_stop = _windows(rng, group)
    customers = _customers(rng, ids, group, day0 + pd.to_timedelta(signup, unit="D"))

    lines = _order_lines(rng, group, win_start, win_stop, catalogue, day0)
    orders = _orders_frame(lines, ids, catalogue, day0)
    reviews = _reviews(rng, group, ids, lines, catalogue, day0, end_day)
    truth = pd.DataFrame({"customer_id": ids, "group": np.asarray(GROUPS, dtype=object)[group]})
    return DemoStore(
        customers=customers,
        orders=orders,
        reviews=reviews,
        truth=truth.astype({"customer_id": "str", "group": "str"}),
    )


def write_demo(
    out_dir: Path | str, seed: int = 7, n_customers: int = 3000, end: str = "2026-09-30"
) -> dict[str, Path]:
    """Write ``customers.csv``, ``orders.csv`` and ``reviews.csv`` to ``out_dir``.

    UTF-8, comma-separated, with a header and ``\\n`` line ends; money with two
    decimals.  The same arguments always give byte-identical files.  Each file is
    written to a temporary name first and then moved into place.  Returns
    ``{"customers": path, "orders": path, "reviews": path}``.  The hidden groups
    are not written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = generate_demo(seed=seed, n_customers=n_customers, end=end)
    paths: dict[str, Path] = {}
    for name in ("customers", "orders", "reviews"):
        path = out / f"{name}.csv"
        tmp = out / f".{name}.csv.tmp"
        getattr(store, name).to_csv(
            tmp, index=False, encoding="utf-8", lineterminator="\n", float_format="%.2f"
        )
        tmp.replace(path)
        paths[name] = path
    return paths


# ---------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Identifiers like ``C00017`` for an array of integers."""
    return np.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], dtype=object)


def _assign_groups(rng: np.random.Generator, n: int) -> np.ndarray:
    """Group code per customer: exact shares, shuffled."""
    counts = np.floor(GROUP_SHARE * n).astype(int)
    counts[np.argmax(GROUP_SHARE)] += n - counts.sum()
    return rng.permutation(np.repeat(np.arange(len(GROUPS)), counts))


def _windows(rng: np.random.Generator, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signup day and active ordering window ``[start, stop)`` per customer.

    Days count from the first day of the two-year history (may be negative for
    sign-ups before it).
    """
    n, D = len(group), HISTORY_DAYS
    lo = np.array([-1100, -700, -700, D - NEW_WINDOW_DAYS, -600])[group]
    hi = np.array([400, 550, 250, D - 3, 600])[group]
    signup = rng.integers(lo, hi + 1)
    start = np.maximum(signup, 0)
    stop = np.full(n, D)
    unhappy = group == UNHAPPY
    stop[unhappy] = rng.integers(start[unhappy] + 90, D - CHURN_QUIET_DAYS + 1)
    return signup, start, stop


def _customers(
    rng: np.random.Generator, ids: np.ndarray, group: np.ndarray, signup: pd.DatetimeIndex
) -> pd.DataFrame:
    """The customers table: fake names, e-mails, phones, places and ages."""
    n = len(ids)
    first = np.asarray(FIRST_NAMES, dtype=object)[rng.integers(len(FIRST_NAMES), size=n)]
    last = np.asarray(LAST_NAMES, dtype=object)[rng.integers(len(LAST_NAMES), size=n)]
    style = rng.integers(3, size=n)
    domain = np.asarray(EMAIL_DOMAINS, dtype=object)[rng.integers(len(EMAIL_DOMAINS), size=n)]
    emails, seen = [], set()
    for i in range(n):
        f, surname = _ascii(first[i]), _ascii(last[i])
        local = (f"{f}.{surname}", f"{f[0]}{surname}", f"{f}{surname}{int(ids[i][1:]) % 97}")[style[i]]
        while f"{local}@{domain[i]}" in seen:
            local += str(int(ids[i][1:]))
        seen.add(f"{local}@{domain[i]}")
        emails.append(f"{local}@{domain[i]}")
    pool = rng.permutation(len(PHONE_RANGES) * 1000)[np.arange(n) % (len(PHONE_RANGES) * 1000)]
    phones = [f"{PHONE_RANGES[p // 1000]}{p % 1000:03d}" for p in pool.tolist()]
    w = np.array([c[2] for c in CITIES], dtype=float)
    place = rng.choice(len(CITIES), size=n, p=w / w.sum())
    age = np.clip(np.rint(rng.normal(AGE_MEAN_SD[group, 0], AGE_MEAN_SD[group, 1])), 18, 85)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "name": first + " " + last,
            "email": emails,
            "phone": phones,
            "city": [CITIES[p][0] for p in place],
            "country": [CITIES[p][1] for p in place],
            "signup_date": signup.strftime("%Y-%m-%d"),
            "age": age.astype(np.int64),
        }
    ).astype({c: "str" for c in ("customer_id", "name", "email", "phone", "city", "country", "signup_date")})


def _ascii(s: str) -> str:
    """Lower-case ASCII version of a name for e-mail addresses (Zoë → zoe)."""
    folded = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


# ---------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------


def _sale_days(day0: pd.Timestamp) -> np.ndarray:
    """Boolean per history day: summer sale (1-21 Jul), Black Friday week, Boxing Day to 15 Jan."""
    days = day0 + pd.to_timedelta(np.arange(HISTORY_DAYS), unit="D")
    md = days.month * 100 + days.day
    return np.asarray((md >= 1121) & (md <= 1130) | (md >= 1226) | (md <= 115) | (md >= 701) & (md <= 721))


def _day_weights(day0: pd.Timestamp, sale: np.ndarray) -> np.ndarray:
    """Order-date weights per group and day: Nov/Dec peak, weekends, growth, sales."""
    days = day0 + pd.to_timedelta(np.arange(HISTORY_DAYS), unit="D")
    month_w = np.array([1.1, 0.75, 0.85, 0.9, 0.95, 0.9, 1.0, 0.95, 1.0, 1.05, 1.6, 2.0])
    base = month_w[days.month - 1] * np.where(days.day_of_week >= 5, 1.15, 1.0)
    base = base * (1.0 + 0.15 * np.arange(HISTORY_DAYS) / HISTORY_DAYS)
    return base[None, :] * (1.0 + SALE_AFFINITY[:, None] * sale[None, :])


def _order_counts(
    rng: np.random.Generator, group: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> np.ndarray:
    """Orders per customer: a gamma-Poisson mix (heavy tail) over the active window."""
    years = (stop - start) / 365.0
    lam = ORDERS_PER_YEAR[group] * years
    counts = rng.poisson(rng.gamma(2.0, 1.0, size=len(group)) * lam / 2.0)
    counts = np.maximum(counts, MIN_ORDERS[group])
    new = group == NEW
    counts[new] = 1 + (rng.random(new.sum()) < 0.35)
    return counts


def _order_lines(
    rng: np.random.Generator,
    group: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    catalogue: pd.DataFrame,
    day0: pd.Timestamp,
) -> pd.DataFrame:
    """All order lines, sales and returns, as integer/float columns.

    Columns: ``order_no``, ``is_return``, ``cust`` (index), ``ts`` (seconds since
    ``day0``), ``prod`` (catalogue index), ``quantity``, ``unit_price``.
    """
    sale = _sale_days(day0)
    weights = _day_weights(day0, sale)
    cdf = np.concatenate([np.zeros((len(GROUPS), 1)), np.cumsum(weights, axis=1)], axis=1)

    counts = _order_counts(rng, group, start, stop)
    cust = np.repeat(np.arange(len(group)), counts)
    g = group[cust]
    lo, hi = cdf[g, start[cust]], cdf[g, stop[cust]]
    target = lo + rng.random(len(cust)) * (hi - lo)
    day = np.empty(len(cust), dtype=np.int64)
    for k in range(len(GROUPS)):
        m = g == k
        day[m] = np.searchsorted(cdf[k], target[m], side="right") - 1
    day = np.clip(day, start[cust], stop[cust] - 1)
    hour_w = np.array(
        [
            1,
            0.5,
            0.3,
            0.2,
            0.2,
            0.3,
            0.8,
            1.5,
            2,
            2.2,
            2.4,
            2.5,
            3,
            2.8,
            2.5,
            2.4,
            2.5,
            2.8,
            3.2,
            3.8,
            4.2,
            4,
            3,
            1.8,
        ]
    )
    hour = rng.choice(24, size=len(cust), p=hour_w / hour_w.sum())
    ts = day * 86400 + hour * 3600 + rng.integers(3600, size=len(cust))

    order = np.lexsort((cust, ts))  # chronological order numbers
    cust, ts, g, day = cust[order], ts[order], g[order], day[order]
    order_no = np.arange(1, len(cust) + 1)

    n_lines = np.minimum(1 + rng.poisson(EXTRA_LINES[g]), 6)
    li = np.repeat(np.arange(len(cust)), n_lines)
    lg = g[li]
    prod = _pick_products(rng, lg, catalogue)
    qty = 1 + (rng.random(len(li)) < MULTI_QTY[lg]) * (1 + rng.poisson(0.3, size=len(li)))
    disc = np.where(
        sale[day[li]],
        SALE_DISCOUNT,
        np.where(rng.random(len(li)) < PROMO_RATE[lg], rng.choice([0.15, 0.2, 0.25], size=len(li)), 0.0),
    )
    price = np.round(catalogue["list_price"].to_numpy()[prod] * (1 - disc), 2)
    sales = pd.DataFrame(
        {
            "order_no": order_no[li],
            "is_return": False,
            "cust": cust[li],
            "ts": ts[li],
            "prod": prod,
            "quantity": qty.astype(np.int64),
            "unit_price": price,
        }
    )
    return pd.concat([sales, _returns(rng, sales, lg, ts)], ignore_index=True)


def _pick_products(rng: np.random.Generator, lg: np.ndarray, catalogue: pd.DataFrame) -> np.ndarray:
    """A catalogue index per line, from the line's group category/tier preferences."""
    cat_idx = catalogue["category"].map({c: i for i, c in enumerate(CATEGORIES)}).to_numpy()
    tier = catalogue["tier"].to_numpy()
    popularity = np.random.default_rng(11).lognormal(0.0, 0.6, size=len(catalogue))
    prod = np.empty(len(lg), dtype=np.int64)
    for k in range(len(GROUPS)):
        m = lg == k
        w = CATEGORY_PREF[k, cat_idx] * TIER_PREF[k, tier] * popularity
        w = w / np.bincount(cat_idx * 3 + tier, weights=popularity)[cat_idx * 3 + tier]
        prod[m] = rng.choice(len(catalogue), size=m.sum(), p=w / w.sum())
    return prod


def _returns(
    rng: np.random.Generator, sales: pd.DataFrame, lg: np.ndarray, order_ts: np.ndarray
) -> pd.DataFrame:
    """Return lines: whole lines sent back 4-21 days after their order.

    A return shares the number of its order (``R000123`` returns ``O000123``);
    returns that would fall after the end of the history are dropped.
    """
    offset = rng.integers(4 * 86400, 21 * 86400, size=len(order_ts))
    back = rng.random(len(sales)) < RETURN_RATE[lg]
    ret = sales.loc[back].copy()
    ret["ts"] = order_ts[ret["order_no"].to_numpy() - 1] + offset[ret["order_no"].to_numpy() - 1]
    ret["quantity"] = -ret["quantity"]
    ret["is_return"] = True
    return ret.loc[ret["ts"] < HISTORY_DAYS * 86400]


def _orders_frame(
    lines: pd.DataFrame, ids: np.ndarray, catalogue: pd.DataFrame, day0: pd.Timestamp
) -> pd.DataFrame:
    """The orders table as written: one row per line, chronological."""
    lines = lines.sort_values(["ts", "is_return", "order_no"], kind="stable")
    width = max(6, len(str(int(lines["order_no"].max()))))
    prefix = np.where(lines["is_return"].to_numpy(), "R", "O")
    nums = lines["order_no"].to_numpy()
    ts = np.datetime64(day0.to_datetime64(), "s") + lines["ts"].to_numpy().astype("timedelta64[s]")
    prod = lines["prod"].to_numpy()
    qty = lines["quantity"].to_numpy()
    price = lines["unit_price"].to_numpy()
    frame = pd.DataFrame(
        {
            "order_id": [f"{p}{n:0{width}d}" for p, n in zip(prefix.tolist(), nums.tolist())],
            "customer_id": ids[lines["cust"].to_numpy()],
            "order_date": np.char.replace(np.datetime_as_string(ts, unit="s"), "T", " "),
            "sku": catalogue["sku"].to_numpy()[prod],
            "product": catalogue["product"].to_numpy()[prod],
            "category": catalogue["category"].to_numpy()[prod],
            "quantity": qty.astype(np.int64),
            "unit_price": price.astype(np.float64),
            "amount": np.round(qty * price, 2) + 0.0,
        }
    )
    return frame.astype(
        {c: "str" for c in ("order_id", "customer_id", "order_date", "sku", "product", "category")}
    )


# ---------------------------------------------------------------------------
# Reviews
# ---------------------------------------------------------------------------


def _reviews(
    rng: np.random.Generator,
    group: np.ndarray,
    ids: np.ndarray,
    lines: pd.DataFrame,
    catalogue: pd.DataFrame,
    day0: pd.Timestamp,
    end_day: pd.Timestamp,
) -> pd.DataFrame:
    """The reviews table: who reviews which bought line, when, and what they say."""
    picked = _review_lines(rng, group, lines)
    g = group[picked["cust"].to_numpy()]
    delay = rng.integers(2, 26, size=len(picked))
    rday = np.minimum(picked["ts"].to_numpy() // 86400 + delay, HISTORY_DAYS - 1)
    prod = picked["prod"].to_numpy()
    text_rng = random.Random(int(rng.integers(2**62)))
    items = catalogue.to_dict("records")
    rows = [
        _compose_review(text_rng, int(gk), items[p], float(pr))
        for gk, p, pr in zip(g.tolist(), prod.tolist(), picked["unit_price"].tolist())
    ]
    frame = (
        pd.DataFrame(
            {
                "cust": picked["cust"].to_numpy(),
                "day": rday,
                "product": catalogue["product"].to_numpy()[prod],
                "rating": np.array([r[0] for r in rows], dtype=np.int64),
                "title": [r[1] for r in rows],
                "review_text": [r[2] for r in rows],
                "group": g,
            }
        )
        .sort_values(["day", "cust"], kind="stable")
        .reset_index(drop=True)
    )
    _plant_hostile_texts(frame)
    frame.insert(0, "review_id", _ids("RV", np.arange(1, len(frame) + 1), max(5, len(str(len(frame))))))
    frame.insert(1, "customer_id", ids[frame["cust"].to_numpy()])
    frame.insert(2, "review_date", (day0 + pd.to_timedelta(frame["day"], unit="D")).dt.strftime("%Y-%m-%d"))
    frame = frame[["review_id", "customer_id", "review_date", "product", "rating", "title", "review_text"]]
    return frame.astype(
        {c: "str" for c in ("review_id", "customer_id", "review_date", "product", "title", "review_text")}
    )


def _review_lines(rng: np.random.Generator, group: np.ndarray, lines: pd.DataFrame) -> pd.DataFrame:
    """Which bought lines get reviewed: distinct lines per reviewing customer.

    Unhappy customers review their latest purchases (the late or lost ones).
    """
    n = len(group)
    reviewer = rng.random(n) < REVIEW_RATE[group]
    n_rev = np.where(reviewer, 1 + rng.poisson(EXTRA_REVIEWS[group]), 0)
    sales = lines.loc[~lines["is_return"]].copy()
    noise = rng.random(len(sales))
    latest = group[sales["cust"].to_numpy()] == UNHAPPY
    sales["key"] = np.where(latest, -sales["ts"].to_numpy() / 86400.0 + 30 * noise, noise)
    sales = sales.sort_values(["cust", "key"], kind="stable")
    rank = sales.groupby("cust").cumcount().to_numpy()
    return sales.loc[rank < n_rev[sales["cust"].to_numpy()]]


def _slots(rng: random.Random, item: dict, price: float) -> dict[str, str]:
    """Values for the template slots of one review."""
    noun = str(item["noun"])
    shoe = item["category"] == "shoes"
    size = (
        rng.choice(("4", "5", "6", "7", "8"))
        if shoe
        else rng.choice(("8", "10", "12", "14", "16", "S", "M", "L"))
    )
    return {
        "item": noun,
        "the_item": ("the " if rng.random() < 0.6 else "my ") + noun,
        "product": re.sub(r"^The ", "", str(item["product"])),
        "size": size,
        "price": f"{price:.2f}",
        "days": str(rng.randint(9, 30)),
        "weeks": str(rng.randint(2, 6)),
    }


def _pick_keys(rng: random.Random, gk: int) -> list[tuple[str, str]]:
    """The (aspect, polarity) of each sentence of one review."""
    n_trials, p = SENTENCE_COUNT[gk]
    count = 1 + sum(rng.random() < p for _ in range(n_trials))
    keys, cum_weights = _PROFILE_CUM[gk]
    out: list[tuple[str, str]] = []
    for _ in range(count):
        if rng.random() < OFF_GROUP:
            out.append(rng.choice(SENTENCE_KEYS))
        else:
            out.append(rng.choices(keys, cum_weights=cum_weights)[0])
    return out


def _compose_review(rng: random.Random, gk: int, item: dict, price: float) -> tuple[int, str, str]:
    """One review for a group: ``(rating, title, text)``.

    Sentences come from the group's topic profile (some off-group), joined with
    an occasional opener, a connector where the tone flips and a closer; then
    typos and casing noise.  About 3 % of texts are empty or one word.
    """
    keys = _pick_keys(rng, gk)
    slots = _slots(rng, item, price)
    used: set[str] = set()
    parts: list[str] = []
    if rng.random() < 0.2:
        parts.append(rng.choice(OPENERS).format(**slots))
    prev: str | None = None
    for key in keys:
        pool = [s for s in SENTENCES[key] if s not in used] or list(SENTENCES[key])
        template = rng.choice(pool)
        used.add(template)
        sentence = template.format(**slots)
        if prev is not None and {prev, key[1]} == {"pos", "neg"} and rng.random() < 0.5:
            sentence = rng.choice(CONNECTORS[key[1]]) + _lower_first(sentence)
        parts.append(sentence)
        prev = key[1]
    score = sum(ASPECT_SCORE.get(k, POLARITY_SCORE[k[1]]) for k in keys) / len(keys)
    if rng.random() < 0.25:
        parts.append(rng.choice(CLOSERS_POS if score > 0 else CLOSERS_NEG))
    raw = 3 + 1.6 * score + float(RATING_OFFSET[gk]) + rng.gauss(0, 0.7)
    rating = min(5, max(1, round(raw)))
    title = "" if rng.random() < 0.05 else rng.choice(TITLES[keys[0]])
    u = rng.random()
    if u < 0.01:
        text = ""
    elif u < 0.03:
        text = rng.choice(SHORT_POS if score > 0 else SHORT_NEG)
    else:
        text = _noisify(rng, " ".join(parts), negative=score < 0)
    return rating, title, text


def _lower_first(sentence: str) -> str:
    """Lower-case the first letter, except for the pronoun "I" (I've, I'd)."""
    if re.match(r"I\b", sentence):
        return sentence
    return sentence[0].lower() + sentence[1:]


def _noisify(rng: random.Random, text: str, negative: bool) -> str:
    """Typos, casing and punctuation variety, as in real reviews."""
    if rng.random() < 0.15:
        words = text.split(" ")
        i = rng.randrange(len(words))
        w = words[i]
        low = w.lower().strip(".,!?:")
        if low in MISSPELLINGS:
            words[i] = w.replace(low, MISSPELLINGS[low]) if w.islower() else w
        elif len(w) >= 5 and w.isalpha():
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        text = " ".join(words)
    u = rng.random()
    if u < 0.06:
        text = text.lower()
    elif u < 0.08 and negative:
        first, _, rest = text.partition(". ")
        text = first.upper() + (". " + rest if rest else "")
    u = rng.random()
    if u < 0.06 and text.endswith("."):
        text = text[:-1]
    elif u < 0.11 and text.endswith("."):
        text = text[:-1] + ("!!" if not negative else "!!!")
    return text


def _plant_hostile_texts(frame: pd.DataFrame) -> None:
    """Put ``<b>love it</b>`` and ``"; DROP TABLE orders; --`` into two review texts."""
    happy = frame.index[
        (frame["group"] == LOYAL) & (frame["rating"] >= 4) & (frame["review_text"].str.len() > 20)
    ]
    if len(happy):
        i = happy[0]
        frame.loc[i, "review_text"] = f"Honestly {HOSTILE_HTML}. " + frame.loc[i, "review_text"]
    angry = frame.index[(frame["group"] == UNHAPPY) & (frame["review_text"].str.len() > 20)]
    if len(angry):
        i = angry[0]
        frame.loc[i, "review_text"] = (
            frame.loc[i, "review_text"]
            + f" The order form rejected my order number {HOSTILE_SQL} so I gave up."
        )
