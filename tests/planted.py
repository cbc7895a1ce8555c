"""A generated corpus of planted mentions and decoys for every target of the bundled config.

Each target has TRUE forms (how people really write the subject: "OpenAI's Stargate", "#Stargate",
"@sama", "Altman's") and DECOY forms (what the same words mean elsewhere: "Stargate SG-1", "Robert
Altman", "musk ox", "my Son", "trump card"). Decoys of an ambiguous alias carry a context word, or the
matcher would skip them for lack of context and they would test nothing. Every form is written into
every FRAME (the sentence around it), so the default rules are checked against many sentences: a rule
that drops a true mention in one of them, or lets a decoy through, fails tests/test_matching_corpus.py.

A form is ``"text | other targets it truly mentions"``: "OpenAI's Stargate | openai" is a true form of
stargate that also mentions openai. A decoy mentions none of its own target, but may mention others.
"""

from __future__ import annotations

from dataclasses import dataclass

# The sentences around a form. None holds an alias or a context word of any target (a test checks
# that); several hold the words that once broke matching: "official", "social", "financial",
# "special" hold "cia"; "chipotle" holds "chip"; "said" holds "ai"; "show" is also the TV show.
FRAMES: tuple[str, ...] = (
    "{m}",
    "{M}.",
    "{M} is all anyone talked about today.",
    "Breaking: {m} — more soon",
    "I can't believe {m} 😂",
    "Thread 🧵 on {m} (1/7)",
    "RT @newsdesk: {m} https://example.com/story?id=42",
    "“{M}”, they said. Wow.",
    "lol {m}!!!",
    "Reports show {m} again, and the numbers show it.",
    "The official line on social media: {m}",
    "From a financial point of view, {m}, said the analyst.",
    "In a special report tonight, {m}",
    "Someone explain {m} to me like I'm five",
    "{M}?\n\nThoughts?",
    "Ordered chipotle, read about {m}, went back to bed.",
    "<b>{m}</b> &amp; more at 11",
    "ok so {m} #news #tech",
)

TRUE_FORMS: dict[str, tuple[str, ...]] = {
    "stargate": (
        "the $500B Stargate AI project",
        "OpenAI's Stargate | openai",
        "#Stargate, the new AI data center push",
        "the Stargate Project",
        "Project Stargate, the $500 billion AI infrastructure venture",
        "the artificial intelligence venture Stargate will cost $500 billion",
        "Stargate, the joint venture of OpenAI, SoftBank and Oracle, | openai softbank oracle",
        "the Stargate data center in Abilene",
        "Stargate's first site in Abilene, Texas",
        "STARGATE: $500B for AI compute",
        "Stargate UAE",
        "Stargate Norway",
        "Stargate India",
        "Stargate LLC",
        "#StargateAI",
        "#StargateProject",
        "the stargate datacenter buildout",
        "Stargate, Altman's half-trillion-dollar bet | altman",
        "Stargate GPUs from Nvidia | nvidia",
        "Trump's Stargate announcement | trump",
        "the official Stargate site in Abilene",
        "Stargate's financial backers, SoftBank and MGX | softbank",
        "the special Stargate compute cluster",
        "Stargate game-changing AI bet",
        "Stargate shows how big AI compute has gotten",
        "Stargate commands a $500 billion budget",
        "Stargate data centers in Texas",
        "#Stargate #OpenAIDevDay | openai",
        "Crusoe's Stargate campus",
        "the social cost of the Stargate AI buildout",
        "Stargate, the White House-backed AI venture",
    ),
    "musk": (
        "Elon Musk", "Musk", "Musk's reply", "Musk’s reply", "MUSK", "@elonmusk", "#ElonMusk", "#Musk", "Elon",
        "Elon's latest post", "Musk rose to fame with PayPal", "Musk rather than the board",
        "Musk rattled the markets", "Tesla CEO Elon Musk", "Musk-owned X", "ELON MUSK",
        "Elon Musk's xAI | xai", "#MuskIsWrong", "elon musk",
    ),
    "altman": (
        "Sam Altman", "Altman", "Altman's", "Altman’s memo", "@sama", "#SamAltman", "ALTMAN",
        "OpenAI CEO Sam Altman | openai", "Altman-led OpenAI | openai", "sam altman", "Sam\nAltman",
        "#samaltman", "Altman's Z-list critics",
    ),
    "son": (
        "Masayoshi Son", "Masa Son", "Masayoshi", "SoftBank's Son | softbank", "Son, SoftBank's founder, | softbank",
        "@masason", "Son's Vision Fund", "SoftBank CEO Masayoshi Son | softbank", "Son and OpenAI | openai",
        "Son, the Stargate chairman, and OpenAI | openai stargate", "Son's Arm Holdings stake | arm",
        "Son said SoftBank will pay | softbank",
    ),
    "nadella": (
        "Satya Nadella", "Nadella", "Satya", "@satyanadella | microsoft", "Nadella's", "NADELLA", "#SatyaNadella",
        "Microsoft CEO Satya Nadella | microsoft", "Satya Nadella’s memo",
    ),
    "benioff": (
        "Marc Benioff", "Benioff", "@Benioff", "Salesforce's Benioff", "Benioff’s", "#Benioff", "MARC BENIOFF",
    ),
    "suleyman": (
        "Mustafa Suleyman", "Microsoft AI CEO Suleyman | microsoft", "Suleyman, the DeepMind co-founder",
        "@mustafasuleyman", "Suleyman's Copilot", "Inflection's Suleyman", "Suleyman on AI safety",
        "#MustafaSuleyman",
    ),
    "ellison": (
        "Larry Ellison", "Oracle's Ellison | oracle", "Ellison, the Oracle co-founder | oracle",
        "billionaire Ellison", "Ellison's TikTok bid", "Ellison's database empire", "LARRY ELLISON",
        "Ellison and OpenAI | openai",
    ),
    "trump": (
        "Donald Trump", "Trump", "President Trump", "Trump's", "TRUMP", "@realDonaldTrump", "#MAGA", "#Trump2024",
        "#TrumpIsWrong", "Donald J. Trump", "the Trump administration", "the Trump suit against CNN",
        "a Trump bid to reshape the Fed", "Trump-era tariffs", "#Trump", "NO TRUMP, NO KKK",
        "Ivanka Trump's father, Donald Trump,", "Trump card holders at the border (the Trump Gold Card visa)",
    ),
    "openai": (
        "OpenAI", "OpenAI's", "Open AI", "@OpenAI", "#OpenAI", "OPENAI", "openai", "ChatGPT maker OpenAI",
        "OpenAI’s board", "OPEN AI",
    ),
    "microsoft": ("Microsoft", "MSFT", "$MSFT", "Microsoft's", "@Microsoft", "#Microsoft", "MICROSOFT", "microsoft"),
    "oracle": (
        "Oracle", "ORCL", "$ORCL", "Oracle's", "ORACLE", "@Oracle", "#Oracle", "Oracle Cloud",
        "the price Oracle paid for Cerner", "Oracle shares",
    ),
    "softbank": ("SoftBank", "Softbank", "SoftBank Group", "SoftBank's", "@SoftBank", "#SoftBank", "SOFTBANK"),
    "xai": (
        "xAI", "x.AI", "x.ai", "@xai", "#xAI", "Musk's xAI | musk", "xAI's Grok", "XAI's Grok 4",
        "XAI and its Colossus cluster",
    ),
    "nvidia": ("Nvidia", "NVIDIA", "NVDA", "$NVDA", "Nvidia's", "@nvidia", "#Nvidia", "nVidia"),
    "arm": (
        "Arm Holdings", "Arm Ltd", "Arm's chip designs", "ARM chips", "Arm, the SoftBank-owned chipmaker | softbank",
        "Arm's IPO", "Arm CPUs", "Arm-based processors", "Arm licenses its designs", "Arm's licensing model",
        "@Arm", "Arm CEO Rene Haas", "Arm sales rose on chip demand", "Arm's deal with Qualcomm",
        "Arm's Neoverse cores",
    ),
}

DECOY_FORMS: dict[str, tuple[str, ...]] = {
    "stargate": (
        "Stargate SG-1 reruns while my Nvidia GPU renders | nvidia",
        "Stargate Atlantis on my Microsoft Surface | microsoft",
        "Stargate Universe, then back to OpenAI docs | openai",
        "Stargate (1994) with Kurt Russell, streaming on a Microsoft console | microsoft",
        "the 1994 film Stargate, upscaled with AI",
        "Project Stargate, the CIA's remote viewing program, explained by AI",
        "the CIA's psychic spy program Stargate, now summarised by AI",
        "an SG-1 marathon: Stargate at its best, with AI subtitles",
        "MGM's Stargate reboot, written with help from AI",
        "the Stargate video game, running on Nvidia GPUs | nvidia",
        "Teal'c in Stargate, rendered by AI",
        "the TV show Stargate and its AI villain",
        "Stargate Command in the AI fan fiction",
        "Stargate fans debate AI art",
    ),
    "musk": (
        "the musk ox", "Musk ox herds in Alaska", "a musk perfume", "Musk deer", "Elon University", "Elon College",
        "white musk scent", "Musk melon smoothie", "MUSK OIL", "muskrat", "Musk roses bloom in June",
        "Elon, NC", "musky",
    ),
    "altman": (
        "Robert Altman's Nashville", "Robert Altman", "the Altman Z-score", "an Altman Z score below 1.8",
        "Edward Altman's bankruptcy model", "ROBERT ALTMAN",
    ),
    "son": (
        "My Son works at SoftBank | softbank", "Son Heung-min's goal, shown on an OpenAI demo | openai",
        "Son of a gun, OpenAI did it | openai", "Son Goku vs OpenAI's Sora | openai", "his Son joined OpenAI | openai",
        "Father and Son at the SoftBank store | softbank", "my son asked about SoftBank | softbank",
        "SON OF A GUN, SoftBank | softbank",
    ),
    "nadella": ("Satya Pal Malik", "the 1998 film Satya", "satyagraha", "Satya (1998)"),
    "benioff": (
        "David Benioff", "Benioff and Weiss", "D.B. Weiss and David Benioff",
        "Game of Thrones showrunners Benioff & Weiss",
    ),
    "suleyman": (
        "Suleyman Kerimov said", "Suleyman the Magnificent in an AI documentary",
        "Sultan Suleyman, an AI-generated portrait", "Suleyman Demirel and AI", "Suleyman said it again",
    ),
    "ellison": (
        "Keith Ellison on TikTok", "Harlan Ellison, database of stories", "Ralph Ellison's novel, a billionaire's pick",
        "David Ellison's Paramount", "Ellison Park in Rochester, a database", "Keith Ellison",
    ),
    "trump": (
        "trump card", "Trump card played by the CEO", "trumped up charges", "Trumped-up charges",
        "her logic trumps all", "a trump suit", "bid 3 No Trump", "Melania Trump", "Ivanka Trump", "Donald Trump Jr.",
        "TRUMP CARD", "the trump cards",
    ),
    "openai": ("truly open AI models", "the case for open AI research", "openness in AI"),
    "microsoft": ("micro soft drinks", "microsoftware"),
    "oracle": (
        "the Oracle of Delphi", "the Oracle of Omaha", "Chainlink oracle", "Chainlink Oracle", "crypto Oracles",
        "the oracle said", "Oracle cards reading", "Oracle Park", "Oracle Red Bull Racing", "the Oracle at Delphi",
    ),
    "softbank": ("the river's soft bank", "a soft bank of snow"),
    "xai": ("XAI (explainable AI) methods like SHAP", "XAI methods", "xai", "Xai the dog"),
    "nvidia": ("la envidia", "Invidia, the Roman goddess", "ENVIDIA"),
    "arm": (
        "Arm day, then chipotle", "Arm of the sofa, stained with chipotle",
        "Arm stretches before the Chippendales show",
        "Arm candy at the Chippendales gala", "I broke my Arm, ate chipotle",
        "Arm wrestling at the chip shop", "Arm and a leg for these chips", "5/1 ARM rates, Nvidia earnings | nvidia",
        "robotic Arm chips in", "Left Arm injury for the Chippewa pitcher", "ARM mortgage rates vs SoftBank | softbank",
    ),
}

# Genuinely ambiguous cases the default rules get wrong, kept so that the record stays true: each is
# (text, target, matched today, why). A rule change that fixes one moves it into the forms above.
KNOWN_LIMITS: tuple[tuple[str, str, bool, str], ...] = (
    ("Son of SoftBank says the money is there", "son", False,
     "'Son of' is the idiom ('Son of a gun'); a headline 'Son of SoftBank' is rare"),
    ("Ex-CIA director joins the board of OpenAI's Stargate", "stargate", False,
     "the CIA's own 'Stargate' programme is excluded by CIA within 60 characters before"),
    ("Stargate SG-1 fans, meet OpenAI's Stargate", "stargate", False,
     "an SG-1 up to 40 characters before, in the same sentence, excludes the next Stargate too"),
    ("Open AI models are catching up", "openai", True,
     "capitalised 'Open AI' at the start of a sentence is read as the company"),
    ("David Ellison's Paramount: Ellison says the deal is done", "ellison", True,
     "the later bare 'Ellison' (the son) counts with the context word 'Paramount'"),
    ("My Arm Holdings shares are up", "arm", False,
     "the exclusion 'my Arm' overlaps the alias 'Arm Holdings' and drops it"),
    ("The Fukuoka SoftBank Hawks won again", "softbank", True,
     "the baseball team carries the company's name"),
)


@dataclass(frozen=True, slots=True)
class Planted:
    text: str
    subject: str  # the target this case was written for
    planted: bool  # a true mention of subject (else a decoy)
    mentions: frozenset[str]  # every target the text truly mentions


def _parse(form: str) -> tuple[str, frozenset[str]]:
    text, _, others = form.partition(" | ")
    return text, frozenset(others.split())


def _frame(frame: str, text: str) -> str:
    """{M} starts a sentence: a lower-case first word is capitalised there ("the" -> "The", "musk ox" ->
    "Musk ox"), a brand's own spelling is not ("xAI", "x.ai", "nVidia")."""
    first_word = text.split(" ", 1)[0]
    start = text[:1].upper() + text[1:] if first_word.isalpha() and first_word.islower() else text
    return frame.replace("{M}", start).replace("{m}", text)


def generate() -> list[Planted]:
    """Every form in every frame: about (forms x frames) cases, true mentions and decoys."""
    cases: list[Planted] = []
    for planted, forms_by_target in ((True, TRUE_FORMS), (False, DECOY_FORMS)):
        for subject, forms in forms_by_target.items():
            for form in forms:
                text, others = _parse(form)
                mentions = others | {subject} if planted else others
                cases.extend(Planted(_frame(frame, text), subject, planted, mentions) for frame in FRAMES)
    return cases
