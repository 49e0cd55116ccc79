"""Human-friendly identity handles: ``adjective-colour-animal``, e.g. ``brisk-amber-otter``.

A handle is a name, not a secret: the identity is proven by its key. With more
than 64 words per list there are over 300,000 handles, so a collision is rare;
the store's unique constraint catches it and the caller draws again.
"""

from __future__ import annotations

import secrets

ADJECTIVES = (
    "agile", "bold", "brave", "bright", "brisk", "calm", "candid", "cheerful",
    "clever", "cosy", "crisp", "curious", "daring", "deft", "eager", "earnest",
    "fair", "fearless", "fleet", "fond", "frank", "gentle", "glad", "grand",
    "happy", "hardy", "hearty", "honest", "humble", "jolly", "keen", "kind",
    "lively", "loyal", "lucky", "mellow", "merry", "mighty", "modest", "neat",
    "nimble", "noble", "patient", "plucky", "polite", "proud", "quick", "quiet",
    "rapid", "ready", "robust", "rustic", "serene", "sharp", "sleek", "smart",
    "snappy", "spry", "steady", "stout", "sturdy", "sunny", "swift", "tidy",
    "tough", "trusty", "upbeat", "valiant", "vivid", "warm", "wise", "witty",
    "zesty",
)  # fmt: skip

COLOURS = (
    "amber", "azure", "beige", "black", "blue", "bronze", "brown", "buff",
    "cerise", "cherry", "cobalt", "copper", "coral", "cream", "crimson", "cyan",
    "denim", "ebony", "emerald", "fawn", "flax", "fuchsia", "gold", "green",
    "grey", "hazel", "indigo", "ivory", "jade", "khaki", "lemon", "lilac",
    "lime", "linen", "magenta", "mahogany", "maroon", "mauve", "mint", "navy",
    "ochre", "olive", "onyx", "orange", "peach", "pearl", "pink", "plum",
    "purple", "red", "rose", "ruby", "russet", "rust", "saffron", "sage",
    "sand", "sapphire", "scarlet", "sepia", "silver", "slate", "tan", "taupe",
    "teal", "topaz", "umber", "vermilion", "violet", "white",
)  # fmt: skip

ANIMALS = (
    "badger", "beaver", "bison", "bobcat", "camel", "caribou", "cheetah", "cobra",
    "condor", "cougar", "coyote", "crane", "dingo", "dolphin", "donkey", "eagle",
    "egret", "elk", "falcon", "ferret", "finch", "fox", "gazelle", "gecko",
    "gibbon", "giraffe", "heron", "hippo", "ibex", "iguana", "jackal", "jaguar",
    "koala", "lemur", "leopard", "lizard", "llama", "lynx", "magpie", "marmot",
    "marten", "meerkat", "mink", "moose", "newt", "ocelot", "orca", "osprey",
    "otter", "owl", "panda", "panther", "parrot", "pelican", "penguin", "puffin",
    "quail", "rabbit", "raven", "seal", "shrew", "sparrow", "stork", "swan",
    "tapir", "tiger", "toucan", "turtle", "walrus", "weasel", "wombat", "yak",
    "zebra",
)  # fmt: skip


def new_handle() -> str:
    """A random handle such as ``brisk-amber-otter``."""
    return "-".join(secrets.choice(words) for words in (ADJECTIVES, COLOURS, ANIMALS))
