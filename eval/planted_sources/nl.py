"""Dutch: paraphrases of kb/nl statements (s) and hand-planted errors (e). Written after the thresholds were frozen
on the dev half of en/de/fr/es/ja, so both halves of it/pt/nl are unseen data for the scorer."""
from __future__ import annotations

GROUPS = [
    {"a": "account-access", "s": ["De link om je wachtwoord opnieuw in te stellen werkt 60 minuten."],
     "e": [("changed_day", "De link om je wachtwoord opnieuw in te stellen werkt 60 dagen.")]},
    {"a": "account-access", "s": ["Na vijf mislukte inlogpogingen wordt je account een half uur geblokkeerd."],
     "e": [("swapped_number", "Na drie mislukte inlogpogingen wordt je account een half uur geblokkeerd.")]},
    {"a": "cancellations", "s": ["Zolang je bestelling nog niet verstuurd is, kun je haar gratis annuleren."],
     "e": [("negated_policy", "Ook voordat je bestelling verstuurd is, kun je haar niet annuleren.")]},
    {"a": "cancellations", "s": ["Is je bestelling al verzonden, dan kun je niet meer annuleren, maar wel retourneren."],
     "e": [("negated_policy", "Is je bestelling al verzonden, dan kun je nog steeds annuleren.")]},
    {"a": "cancellations", "s": ["Na een annulering staat het geld binnen 3 tot 5 werkdagen weer op je rekening."],
     "e": [("changed_day", "Na een annulering staat het geld binnen 3 tot 5 weken weer op je rekening.")]},
    {"a": "contact-human", "s": ["Onze livechat is van maandag tot en met vrijdag open, van 9:00 tot 18:00 uur lokale tijd."],
     "e": [("changed_day", "Onze livechat is van maandag tot en met zaterdag open, van 9:00 tot 18:00 uur lokale tijd."),
           ("changed_day", "Onze livechat is van maandag tot en met vrijdag open, van 9:00 tot 20:00 uur lokale tijd.")]},
    {"a": "contact-human", "s": ["Op een e-mail naar support@brightcraft.example antwoorden we binnen 24 uur."],
     "e": [("swapped_number", "Op een e-mail naar support@brightcraft.example antwoorden we binnen 48 uur.")]},
    {"a": "damaged-items", "s": ["Meld de schade uiterlijk 14 dagen na levering."]},
    {"a": "damaged-items", "s": ["Bij een beschadigd product sturen we je gratis een vervangend product of betalen we het volledige bedrag terug."],
     "e": [("invented_discount", "Bij een beschadigd product sturen we je gratis een vervangend product en krijg je 20 % korting op je volgende bestelling."),
           ("added_promise", "Bij een beschadigd product sturen we je gratis een vervangend product met spoedlevering.")]},
    {"a": "damaged-items", "s": ["Grote producten zoals tv's haalt de vervoerder gratis bij je op."],
     "e": [("wrong_product", "Grote producten zoals koptelefoons haalt de vervoerder gratis bij je op.")]},
    {"a": "delivery-delays", "s": ["Is je pakket vijf werkdagen na de verwachte datum nog niet binnen, dan starten we een onderzoek bij de vervoerder."],
     "e": [("swapped_number", "Is je pakket twee werkdagen na de verwachte datum nog niet binnen, dan starten we een onderzoek bij de vervoerder.")]},
    {"a": "delivery-delays", "s": ["Het onderzoek bij de vervoerder duurt hooguit drie werkdagen."],
     "e": [("changed_day", "Het onderzoek bij de vervoerder duurt hooguit drie weken.")]},
    {"a": "goodwill-gestures", "s": ["Een tegoedbon is 10 % van je bestelwaarde, met een maximum van € 20."],
     "e": [("changed_amount", "Een tegoedbon is 10 % van je bestelwaarde, met een maximum van € 50.")]},
    {"a": "goodwill-gestures", "s": ["Een tegoedbon blijft zes maanden geldig."],
     "e": [("swapped_number", "Een tegoedbon blijft twaalf maanden geldig.")]},
    {"a": "goodwill-gestures", "s": ["We passen onze prijzen niet aan op die van andere winkels."],
     "e": [("negated_policy", "We passen onze prijzen graag aan op die van andere winkels.")]},
    {"a": "order-status", "s": ["Bestellingen verlaten het magazijn binnen één tot twee werkdagen."],
     "e": [("changed_day", "Bestellingen verlaten het magazijn binnen één tot twee weken.")]},
    {"a": "order-status", "s": ["Standaardverzending binnen de EU duurt 2 tot 4 werkdagen."],
     "e": [("wrong_product", "Standaardverzending naar Canada duurt 2 tot 4 werkdagen.")]},
    {"a": "payment-problems", "s": ["Je kunt betalen met Visa, Mastercard, American Express, PayPal of een bankoverschrijving."],
     "e": [("wrong_product", "Je kunt betalen met Visa, Mastercard, American Express, Klarna of een bankoverschrijving.")]},
    {"a": "payment-problems", "s": ["We vragen nooit per e-mail of chat naar je volledige kaartnummer of beveiligingscode."],
     "e": [("negated_policy", "We vragen per e-mail of chat naar je volledige kaartnummer en beveiligingscode.")]},
    {"a": "returns-refunds.eu", "s": ["Je hebt wettelijk 14 dagen bedenktijd na levering en hoeft geen reden te geven."],
     "e": [("negated_policy", "Je hebt wettelijk 14 dagen bedenktijd na levering, maar je moet wel een reden geven.")]},
    {"a": "returns-refunds.eu", "s": ["Met het retourlabel van Brightcraft is terugsturen gratis."],
     "e": [("changed_amount", "Met het retourlabel van Brightcraft kost terugsturen € 6,95.")]},
    {"a": "wrong-items", "s": ["Een verkeerd product dat minder dan € 15 waard is, mag je houden."],
     "e": [("changed_amount", "Een verkeerd product dat minder dan € 50 waard is, mag je houden.")]},
    {"a": "wrong-items", "s": ["We sturen je zonder extra kosten het juiste product en een gratis retourlabel."],
     "e": [("added_promise", "We sturen je zonder extra kosten het juiste product en betalen ook je oorspronkelijke verzendkosten terug.")]},
    {"a": "delivery-delays", "e": [("invented_discount", "Als excuus voor de vertraging krijg je 15 % korting op je volgende bestelling.")]},
]

DAY_CHANGES = [(r"\bvrijdag\b", "zaterdag"), (r"\bdecember\b", "januari"), (r"\bwerkdagen\b", "weken"),
               (r"\bdagen\b", "weken"), (r"(?<!half )\buur\b", "dagen"), (r"\bminuten\b", "uur"), (r"\bmaanden\b", "jaar")]
PRODUCT_SWAPS = [(r"\btv's\b", "koptelefoons"), (r"\bPayPal\b", "Apple Pay"), (r"\blivechat\b", "WhatsApp")]
DISCOUNT_CLAUSES = ["en je krijgt 15 % korting op je volgende bestelling", "en we geven je een tegoedbon van € 10"]


def append_clause(sentence: str, clause: str) -> str | None:
    return f"{sentence[:-1]} {clause}." if sentence.endswith(".") else None
