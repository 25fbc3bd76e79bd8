"""Data of the text scenario: support tickets written from templates, with quirks. Nothing is downloaded.

Each ticket is an optional greeting, one sentence of its class (a template with slots filled from
word lists: product areas, actions, plans, amounts, order references, months, devices; or, for
half of them, a vague sentence any class could write around a short cue of its class), some
sentences that carry no signal, and a signature. Words of four letters or more get a typo now and
then (a swapped, dropped or doubled letter), and references and amounts are fresh numbers: the
full vocabulary is many times the words that matter, so an embedding row per word does not fit
the budget. The candidate's tickets and the holdout's are signed (and mention) different people,
so no holdout ticket can equal a candidate ticket, whatever the seeds.

- candidate data (``train.csv``, public seed): imbalanced classes (account tickets are rare);
  about 30 % of the tickets were sent again 1-3 times (``re:``/``fwd:`` prefixes, other numbers,
  other case or punctuation): near-duplicates that a random row split puts on both sides; 30 % of
  the true ``bug`` tickets (with their resends) are labelled ``feature_request``; typos in 22 % of
  the long words;
- holdout (the installation's secret seed): balanced classes, true labels, resends of its own
  tickets only, and more typos (35 %: a later period, a new mobile app).

Labels are integers: 0 billing, 1 bug, 2 feature_request, 3 account.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ID_COLUMN = "ticket_id"
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"
CLASSES = ("billing", "bug", "feature_request", "account")
CANDIDATE_SHARES = (0.38, 0.30, 0.23, 0.09)
HOLDOUT_SHARES = (0.25, 0.25, 0.25, 0.25)
CANDIDATE_TICKETS, HOLDOUT_TICKETS = 3000, 1600  # before resends
RESENT_FRACTION = 0.3
VAGUE_FRACTION = 0.5  # of the tickets, a vague sentence with a short cue instead of a template  # of the tickets, sent again 1-3 times
NOISY_CLASS, NOISY_AS, NOISY_FRACTION = 1, 2, 0.3  # 30 % of the bugs carry the label feature_request
CANDIDATE_TYPOS, HOLDOUT_TYPOS = 0.22, 0.35

AREAS = ("dashboard", "export", "reports", "calendar", "search", "notifications", "checkout", "settings page",
         "mobile app", "api", "sync", "file upload", "team view", "inbox", "editor", "integrations", "timeline",
         "analytics", "templates", "comments", "sharing", "dark mode", "offline mode", "widgets")
ACTIONS = ("save my changes", "upload a file", "export to csv", "share a report", "open a project", "add a user",
           "print an invoice", "attach a photo", "sort the list", "filter by date", "rename a folder",
           "copy a template", "move a task", "archive old items", "import contacts", "merge two records")
CAPABILITIES = ("work offline", "export to excel", "support keyboard shortcuts", "show weekly totals",
                "group items by tag", "send reminders", "sync with google calendar", "use custom colours",
                "bulk edit records", "schedule reports", "support more languages", "show a history of changes")
DEVICES = ("iphone", "android", "ipad", "windows", "mac", "chrome", "firefox", "safari", "linux")
PLANS = ("basic", "pro", "team", "business", "enterprise", "starter")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
GREETINGS = ("hi", "hello", "hi team", "hello support", "dear support team", "good morning", "hey there",
             "hi there", "good afternoon", "hello team")
PLEASANTRIES = ("hope you are well", "thanks for your help", "quick question", "sorry to bother you",
                "i hope this is the right place", "thanks in advance")
SIGNOFFS = ("thanks", "thank you", "best regards", "cheers", "kind regards", "many thanks", "regards", "thx")
# The people who write (and sign) the tickets: the candidate's and the holdout's are different people,
# so no holdout ticket can ever equal one of the candidate's, whatever the seeds.
CANDIDATE_NAMES = ("anna", "ben", "carla", "david", "elif", "farid", "grace", "hugo", "ines", "jonas", "kim",
                   "lena", "marco", "nora", "omar", "paula", "quinn", "rosa", "sami", "tara")
HOLDOUT_NAMES = ("aiko", "bruno", "chen", "dana", "emil", "fatma", "gus", "hana", "ivan", "jade", "karl", "lucia",
                 "mika", "nils", "olga", "pia", "raj", "sofia", "theo", "uma")

TEMPLATES = {
    0: (  # billing
        "i was charged twice for my {plan} plan this month",
        "my invoice {ref} shows the wrong amount of {amount}",
        "please refund the {amount} charge from {month}",
        "why was my card declined when i upgraded to {plan}",
        "the receipt for order {ref} is missing the vat number",
        "i cancelled in {month} but you still billed me {amount}",
        "can i get an invoice with our company address for {ref}",
        "the price of the {plan} plan went up without notice",
        "i need a copy of every invoice since {month}",
        "we were billed for {count} seats but only use {count2}",
        "how do i pay by bank transfer instead of card",
        "there is a charge of {amount} i do not recognise",
    ),
    1: (  # bug
        "the {area} crashes when i try to {action}",
        "since the last update the {area} shows error {code}",
        "i cannot {action} the {area} keeps loading forever",
        "the app freezes on {device} when i open the {area}",
        "the {area} is broken on {device} nothing happens when i click",
        "every time i {action} i get a blank screen",
        "the {area} shows the wrong numbers since {month}",
        "error {code} when i {action} on {device}",
        "the {area} stopped working after the update",
        "the {area} is very slow and times out on {device}",
        "my changes in the {area} are lost after i {action}",
        "the button to {action} does nothing in the {area}",
    ),
    2: (  # feature_request
        "it would be great if the {area} could {capability}",
        "please add a way to {action} from the {area}",
        "could you make the {area} {capability}",
        "we would love the {area} to {capability} on {device}",
        "is it possible to {capability} in a future version",
        "feature idea let the {area} {capability}",
        "our team needs the {area} to {capability}",
        "any plans to let us {action} in bulk",
        "suggestion the {area} should {capability}",
        "please consider an option to {capability}",
        "it would save us time if we could {action} faster",
        "can you add {area} support for {device}",
    ),
    3: (  # account
        "i cannot log in to my account since {month}",
        "please reset the password for {email}",
        "how do i change the email address on my account",
        "my account was locked after too many attempts",
        "please delete my account and all my data",
        "i never got the verification email for {email}",
        "how do i transfer ownership of our account to {name}",
        "the two factor code does not arrive on my phone",
        "i want to merge my two accounts into one",
        "someone else may have access to my account",
        "how can i add {name} as an admin on our account",
        "i forgot which email i used to sign up",
    ),
}
# Vague tickets: one sentence shared by every class, and one cue (a few words) of the ticket's class.
VAGUE = ("i have a problem with {cue}", "quick question about {cue}", "can someone look at {cue}",
         "we need help with {cue} today", "still waiting for an answer about {cue}", "is there news on {cue}",
         "who can i talk to about {cue}", "see below regarding {cue}")
CUES = {
    0: ("my invoice", "the refund", "a double charge", "the vat number", "my last payment", "the annual price",
        "a charge on my card", "the discount code", "our billing address", "the renewal fee"),
    1: ("the {area} crashing", "an error in the {area}", "the app freezing on {device}", "a blank {area}",
        "the broken {area}", "the {area} not loading", "a crash after the update", "lost changes in the {area}"),
    2: ("an idea for the {area}", "a new option for the {area}", "adding {area} to {device}", "an improvement request",
        "a missing option to {capability}", "a wish for the {area}", "the roadmap for the {area}", "a suggestion"),
    3: ("my password", "logging in", "my login email", "the two factor code", "a locked account",
        "deleting my account", "my username", "the account owner", "signing up again", "the admin rights"),
}
# Sentences any class may add: they carry no signal.
FILLERS = ("this is urgent for us", "we use the {plan} plan", "i am on {device}", "please get back to me soon",
           "our team has {count} people", "i already tried again later", "my colleague {name} has the same question",
           "this started in {month}", "let me know if you need more details")


def _fill(template: str, rng: np.random.Generator, names) -> str:
    def pick(options):
        return options[rng.integers(len(options))]

    slots = {
        "plan": pick(PLANS), "area": pick(AREAS), "action": pick(ACTIONS), "capability": pick(CAPABILITIES),
        "device": pick(DEVICES), "month": pick(MONTHS), "name": pick(names),
        "amount": f"${rng.integers(5, 500)}.{rng.integers(0, 100):02d}",
        "ref": f"#{pick(('inv', 'ord', 'a', 'b'))}{rng.integers(10_000, 1_000_000)}",
        "code": f"{pick(('e', 'err', 'x'))}{rng.integers(100, 10_000)}",
        "email": f"{pick(names)}.{pick(names)}{rng.integers(1, 1000)}@{pick(('mail', 'inbox', 'corp', 'web'))}.com",
        "count": str(rng.integers(2, 60)), "count2": str(rng.integers(2, 60)),
    }
    return template.format(**slots)


def _typo(word: str, rng: np.random.Generator) -> str:
    position = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(3)
    if kind == 0:
        return word[:position] + word[position + 1] + word[position] + word[position + 2:]
    if kind == 1:
        return word[:position] + word[position + 1:]
    return word[:position] + word[position] + word[position:]


def _with_typos(sentence: str, rng: np.random.Generator, rate: float) -> str:
    return " ".join(_typo(word, rng) if len(word) >= 4 and word.isalpha() and rng.random() < rate else word
                    for word in sentence.split())


def _ticket(label: int, rng: np.random.Generator, typos: float, names) -> str:
    parts = []
    if rng.random() < 0.75:
        parts.append(GREETINGS[rng.integers(len(GREETINGS))] + ",")
        if rng.random() < 0.4:
            parts.append(PLEASANTRIES[rng.integers(len(PLEASANTRIES))] + ".")
    if rng.random() < VAGUE_FRACTION:
        cue = _fill(CUES[label][rng.integers(len(CUES[label]))], rng, names)
        sentence = VAGUE[rng.integers(len(VAGUE))].format(cue=cue)
    else:
        sentence = _fill(TEMPLATES[label][rng.integers(len(TEMPLATES[label]))], rng, names)
    parts.append(sentence + rng.choice([".", "!", "?", ""]))
    for _ in range(int(rng.random() < 0.6) + int(rng.random() < 0.3)):
        parts.append(_fill(FILLERS[rng.integers(len(FILLERS))], rng, names) + ".")
    text = _with_typos(" ".join(parts), rng, typos)
    name = names[rng.integers(len(names))]  # every ticket is signed, after the typos: the name stays a name
    text += " " + (SIGNOFFS[rng.integers(len(SIGNOFFS))] + ", " + name if rng.random() < 0.7 else name)
    return text[0].upper() + text[1:]


def _resend(text: str, rng: np.random.Generator) -> str:
    """The same ticket sent again: a reply prefix, other numbers, other case or punctuation."""
    digits = "".join(str(rng.integers(10)) for _ in range(6))
    changed = "".join(digits[i % 6] if ch.isdigit() else ch for i, ch in enumerate(text))
    prefix = ("re: ", "RE: ", "fwd: ", "Fw: ", "", "")[rng.integers(6)]
    if rng.random() < 0.3:
        changed = changed.lower()
    if rng.random() < 0.3:
        changed = changed.rstrip(".!?") + ("!!", "??", " ...")[rng.integers(3)]
    return prefix + changed


def _tickets(rng: np.random.Generator, count: int, shares, typos: float, names, prefix: str):
    labels = rng.choice(len(CLASSES), size=count, p=np.asarray(shares) / np.sum(shares))
    texts, truth, groups = [], [], []
    for index, label in enumerate(labels):
        text = _ticket(int(label), rng, typos, names)
        copies = [text]
        if rng.random() < RESENT_FRACTION:
            copies += [_resend(text, rng) for _ in range(int(rng.integers(1, 4)))]
        texts += copies
        truth += [int(label)] * len(copies)
        groups += [index] * len(copies)
    order = rng.permutation(len(texts))
    ids = [f"{prefix}{number:07d}" for number in rng.choice(10**7, size=len(texts), replace=False)]
    frame = pd.DataFrame({ID_COLUMN: ids, TEXT_COLUMN: np.asarray(texts, dtype=object)[order]})
    return frame, np.asarray(truth, dtype=np.int64)[order], np.asarray(groups)[order]


def make_candidate_data(seed: int) -> dict[str, pd.DataFrame]:
    """The candidate's labelled tickets: imbalanced, near-duplicates, a third of the bugs labelled feature_request."""
    rng = np.random.default_rng([seed, 1])
    frame, labels, groups = _tickets(rng, CANDIDATE_TICKETS, CANDIDATE_SHARES, CANDIDATE_TYPOS, CANDIDATE_NAMES, "t")
    noisy = labels.copy()
    # whole groups flip together: a resend keeps the label the first agent gave the ticket
    bug_groups = np.unique(groups[labels == NOISY_CLASS])
    flipped = rng.choice(bug_groups, size=int(round(len(bug_groups) * NOISY_FRACTION)), replace=False)
    noisy[np.isin(groups, flipped)] = NOISY_AS
    frame[LABEL_COLUMN] = noisy
    return {"train.csv": frame}


def make_holdout(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Holdout features (id + text) and true labels: balanced, from the secret seed."""
    rng = np.random.default_rng([seed, 2])
    frame, labels, _ = _tickets(rng, HOLDOUT_TICKETS, HOLDOUT_SHARES, HOLDOUT_TYPOS, HOLDOUT_NAMES, "h")
    return frame, labels
