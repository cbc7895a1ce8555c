"""Word lists for sentiment and stance, kept apart from the code that uses them.

Valences use VADER's scale (-4 .. +4). Every entry is a general-purpose judgement about a word,
not fitted to single posts: social-media and tech/finance words VADER lacks, emoji VADER reads
wrongly, and the stance vocabulary (insults, hashtag cues, reporting verbs, sarcasm markers).
"""

from __future__ import annotations

# Words VADER's lexicon lacks that are clearly polar wherever they appear in posts about tech,
# business and politics. Added to the lexicon for sentiment and stance alike.
SENTIMENT_LEXICON: dict[str, float] = {
    # tech / finance
    "vaporware": -2.2, "grift": -2.4, "grifts": -2.4, "grifter": -2.6, "grifters": -2.6, "grifting": -2.4,
    "boondoggle": -2.1, "boondoggles": -2.1, "scammer": -2.7, "scammers": -2.7, "scammed": -2.6, "scamming": -2.6,
    "ponzi": -2.5, "overhyped": -1.6, "overpriced": -1.5, "overrated": -1.5, "ripoff": -2.2, "rip-off": -2.2,
    "bogus": -2.0, "phony": -2.2, "phoney": -2.2, "shady": -1.9, "sketchy": -1.6, "flopped": -1.8,
    "layoffs": -1.7, "meltdown": -2.0, "bloodbath": -2.5, "plummets": -1.8, "plummeted": -1.8, "tanked": -1.7,
    "dystopian": -2.0, "dystopia": -2.0, "bearish": -1.3, "bullish": 1.3, "moonshot": 1.2, "breakthrough": 1.9,
    "game-changer": 2.2, "gamechanger": 2.2, "legendary": 2.4, "skyrocketed": 1.4, "soared": 1.2,
    # people and conduct
    "crook": -2.5, "crooks": -2.5, "crooked": -2.2, "corrupt": -2.5, "corruption": -2.4, "traitor": -2.8,
    "traitors": -2.8, "scum": -3.0, "scumbag": -3.0, "sleazy": -2.3, "creepy": -1.9, "bigot": -2.6,
    "bigots": -2.6, "misogynist": -2.6, "sexist": -2.3, "hypocrite": -2.2, "hypocrites": -2.2, "hypocrisy": -2.0,
    "disgraceful": -2.6, "sociopath": -2.8, "psychopath": -2.8, "narcissist": -2.2, "tyrant": -2.6,
    "conman": -2.5, "swindler": -2.5, "swindlers": -2.5, "swindled": -2.3, "swindling": -2.3, "charlatan": -2.3,
    "charlatans": -2.3, "fraudster": -2.7, "fraudsters": -2.7, "thug": -2.3, "thugs": -2.3, "buffoon": -2.2,
    "delusional": -2.0, "unhinged": -2.0, "incompetence": -2.2, "gaslighting": -2.0, "disinformation": -1.6,
    "garbage": -1.9, "trash": -1.7, "cringe": -1.5, "cringey": -1.6, "sham": -2.0,
}

# Emoji VADER reads wrongly from their names ("fire" is negative, "broken heart" positive,
# "pouting face" nothing): each is replaced by a token of our own with this valence.
EMOJI_VALENCE: dict[str, float] = {
    "🔥": 1.5, "🚀": 1.5, "💯": 1.8, "👏": 1.5, "🙌": 1.8, "💪": 1.5, "🏆": 2.0, "🐐": 2.0, "👍": 1.7,
    "✅": 1.0, "🤩": 2.6, "🥳": 2.5, "🎉": 2.0,
    "👎": -1.9, "💔": -2.3, "😡": -2.5, "🤬": -2.8, "😠": -2.3, "🤮": -2.6, "🤢": -2.2, "🖕": -2.8,
    "💩": -2.2, "🤡": -2.0, "🙄": -1.5, "😒": -1.6, "🤦": -1.6, "🤦‍♂️": -1.6, "🤦‍♀️": -1.6, "😤": -1.5,
    "🗑": -1.8, "🗑️": -1.8, "📉": -1.0, "❌": -1.0, "🐍": -1.8, "😬": -0.8, "😞": -1.8, "😔": -1.5,
    "😩": -1.5, "😫": -1.5, "🥴": -0.8,
}

# Laughter: VADER reads it as joy, which is right for sentiment; aimed at a target it is mostly
# mockery ("Musk says they DON'T have the money 😂"), so stance reads it with LAUGHTER_STANCE.
LAUGHING_EMOJI = ("😂", "🤣", "😆", "😹")
LAUGHTER_STANCE = -0.8
LAUGHTER_WORDS = ("lol", "lmao", "lmfao", "rofl", "haha", "hahaha", "hahahaha", "lolol", "lolz")

# Stance only: words that say something about a person or project when aimed at it, but that a
# sentiment scorer should not read that way in general ("a good joke" is fine; "X is a joke" is not).
STANCE_LEXICON: dict[str, float] = {
    "joke": -1.6, "clown": -2.0, "clowns": -2.0, "puppet": -1.9, "dictator": -2.4, "despot": -2.4,
    "fascist": -2.8, "nazi": -2.8, "sheep": -1.5, "cult": -1.8, "toddler": -1.3, "impeach": -2.0,
    "impeached": -1.8, "impeachable": -2.0, "indicted": -2.2, "indict": -2.0, "convicted": -2.2,
    "resign": -1.8, "unfit": -2.2, "senile": -2.0, "liar": -2.8, "liars": -2.8, "lie": -1.8, "lying": -2.6,
    "lies": -2.2, "lied": -2.2, "incompetent": -2.5, "criminal": -2.6, "moron": -2.6, "idiot": -2.6,
    "fraud": -2.8, "racist": -3.0, "traitor": -3.0, "treason": -2.6, "disgrace": -2.6, "embarrassment": -2.3,
    "bootlicker": -2.2, "deranged": -2.2, "failed": -1.8, "failing": -1.8, "loser": -2.6, "weak": -1.9,
    "hero": 2.6, "patriot": 1.8, "legend": 2.2, "leader": 1.2, "leadership": 1.2, "champion": 2.4,
    "genius": 2.0, "visionary": 2.4, "brilliant": 2.6, "backing": 1.2, "endorse": 1.8, "endorsed": 1.8,
    "endorsement": 1.5, "re-elect": 2.0, "reelect": 2.0, "landslide": 1.5, "support": 1.9, "supports": 1.7,
    "trust": 1.6, "proud": 2.2, "thank": 1.8, "thanks": 1.8, "grateful": 2.2, "honored": 2.0,
}

# Words before the target's name in a hashtag (#NeverTrump, #StopStargate) that oppose it,
# and words around it that support it (#VoteBiden, #Bernie2020, #TeamMusk).
HASHTAG_AGAINST_PREFIX = frozenset({
    "never", "stop", "dump", "no", "not", "anti", "impeach", "fire", "arrest", "lock", "jail", "remove", "resist",
    "fuck", "f", "boycott", "defeat", "beat", "reject", "oust", "ditch", "unfollow", "ban", "blame", "fuk",
    "nomore", "notmy", "sack", "indict", "convict", "recall", "bye", "byebye", "goodbye", "delete", "quit",
    "abolish", "expose", "against", "cancel",
})
HASHTAG_FAVOR_PREFIX = frozenset({
    "vote", "go", "team", "stand", "standwith", "i", "im", "with", "pro", "love", "back", "elect", "reelect",
    "keep", "support", "thank", "thanks", "thankyou", "we", "welove", "iwith", "believe", "ilove",
    "president", "all", "forward", "trust", "yes",
})
HASHTAG_FAVOR_SUFFIX = frozenset({
    "train", "nation", "army", "strong", "won", "wins", "win", "for", "forpresident", "president", "supporter",
    "supporters", "fan", "fans", "country", "landslide", "squad", "gang", "yes", "forever", "rocks", "rules",
    "hero", "victory", "trust", "2016", "2020", "2024", "2028",
})
HASHTAG_AGAINST_SUFFIX = frozenset({
    "lies", "lied", "liar", "sucks", "fail", "fails", "failed", "must", "go", "out", "resign", "cult", "sheep",
    "virus", "crime", "crimes", "scam", "shutdown", "recession", "slump", "collapse", "kills", "corruption",
    "fraud", "unfit", "impeachment", "jail", "prison", "chaos", "lie", "lying", "bubble", "grift", "con", "hoax",
    "disaster", "failure", "crash", "meltdown", "gate", "gone", "lost", "loses", "loser",
})

# Verbs that report what the target said: what follows is the target's words, not the
# author's judgement of the target.
REPORTING_VERBS = frozenset({
    "says", "said", "say", "tells", "told", "tweets", "tweeted", "writes", "wrote", "announces", "announced",
    "declares", "declared", "insists", "insisted", "promises", "promised", "vows", "vowed", "touts", "touted",
    "boasts", "boasted", "predicts", "predicted", "warns", "warned", "argues", "argued", "explains",
    "according", "states", "stated", "urges", "urged", "suggests", "suggested", "pledges", "pledged",
})
# Reporting verbs that also say the author does not believe it.
DOUBT_VERBS = frozenset({"claims", "claimed", "pretends", "pretended", "alleges", "alleged", "brags", "bragged",
                         "lies", "lied", "falsely", "whines", "whined", "rants", "ranted"})

# Verbs of defeating or attacking: bad news for their object, not for their subject
# ("X destroys the competition" is praise of X; "we must defeat X" is opposition to X).
HARM_VERBS = frozenset({
    "destroy", "destroys", "destroyed", "destroying", "slaughter", "slaughters", "slaughtered", "crush", "crushes",
    "crushed", "crushing", "beat", "beats", "beating", "defeat", "defeats", "defeated", "defeating", "demolish",
    "demolishes", "demolished", "wreck", "wrecks", "wrecked", "obliterate", "obliterates", "obliterated",
    "slam", "slams", "slammed", "blast", "blasts", "blasted", "bury", "buries", "buried", "expose", "exposes",
    "exposed", "attack", "attacks", "attacked", "fight", "fights", "fought", "fighting", "kill", "kills",
    "killed", "killing", "trounce", "trounces", "trounced", "shred", "shreds", "shredded", "torch", "torches",
    "torched", "roast", "roasts", "roasted", "owns", "owned", "dismantle", "dismantles", "dismantled",
    "smash", "smashes", "smashed", "humiliate", "humiliates", "humiliated", "rip", "rips", "ripped",
    "takes down", "battle", "battles", "hammer", "hammers", "hammered",
})

# Verbs whose object is being got rid of ("remove X", "vote out X", "impeach X").
REMOVAL_VERBS = frozenset({
    "remove", "removing", "removed", "impeach", "impeaching", "impeached", "oust", "ousting", "ousted", "dump",
    "dumping", "fire", "firing", "replace", "replacing", "stop", "stopping", "boycott", "boycotting", "indict",
    "indicting", "arrest", "arresting", "jail", "jailing", "convict", "convicting", "unseat", "resist",
    "resisting", "reject", "rejecting", "ditch", "ditching", "cancel", "canceling", "cancelling", "ban", "banning",
    "sue", "suing", "investigate", "investigating", "prosecute", "prosecuting",
})

# Markers of irony: praise next to them is not meant.
SARCASM_MARKERS = ("/s", "#sarcasm", "yeah right", "yeah, right", "sure jan", "oh sure", "totally not",
                   "what could go wrong", "so-called", "so called", "🙄", "🤡", "lol sure")

PERSON_PRONOUNS = frozenset({"he", "him", "his", "himself", "she", "her", "hers", "herself", "he's", "she's",
                             "he'll", "she'll", "he'd", "she'd"})
SECOND_PERSON = frozenset({"you", "your", "you're", "youre", "yourself", "u", "ur", "you've", "you'll"})
TITLES = frozenset({"president", "mr", "mr.", "senator", "sen", "sen.", "governor", "gov", "secretary", "vp",
                    "vice", "ceo", "potus"})
