"""Italian: paraphrases of kb/it statements (s) and hand-planted errors (e). Written after the thresholds were
frozen on the dev half of en/de/fr/es/ja, so both halves of it/pt/nl are unseen data for the scorer."""
from __future__ import annotations

GROUPS = [
    {"a": "account-access", "s": ["Il link per reimpostare la password funziona per 60 minuti.",
                                  "Il link di reimpostazione resta valido un'ora."],
     "e": [("changed_day", "Il link per reimpostare la password funziona per 60 giorni.")]},
    {"a": "account-access", "s": ["Dopo cinque tentativi di accesso falliti, l'account viene bloccato per mezz'ora."],
     "e": [("swapped_number", "Dopo tre tentativi di accesso falliti, l'account viene bloccato per mezz'ora.")]},
    {"a": "account-access", "s": ["Dopo aver verificato la tua identità, l'assistenza può cambiare l'indirizzo e-mail del tuo account."],
     "e": [("negated_policy", "Anche dopo aver verificato la tua identità, l'assistenza non può cambiare l'indirizzo e-mail del tuo account.")]},
    {"a": "cancellations", "s": ["Finché il tuo ordine non è stato spedito, puoi annullarlo senza costi."],
     "e": [("negated_policy", "Prima della spedizione, non puoi annullare il tuo ordine.")]},
    {"a": "cancellations", "s": ["Un ordine già partito dal magazzino non si può più annullare, ma puoi restituirlo."],
     "e": [("negated_policy", "Un ordine già partito dal magazzino si può ancora annullare.")]},
    {"a": "cancellations", "s": ["Il rimborso di un ordine annullato arriva in 3-5 giorni lavorativi."],
     "e": [("invented_discount", "Il rimborso di un ordine annullato arriva in 3-5 giorni lavorativi e ti regaliamo anche un buono sconto del 10 %.")]},
    {"a": "contact-human", "s": ["La nostra chat dal vivo risponde dal lunedì al venerdì, dalle 9:00 alle 18:00 ora locale."],
     "e": [("changed_day", "La nostra chat dal vivo risponde dal lunedì al sabato, dalle 9:00 alle 18:00 ora locale."),
           ("changed_day", "La nostra chat dal vivo risponde dal lunedì al venerdì, dalle 9:00 alle 20:00 ora locale.")]},
    {"a": "contact-human", "s": ["Rispondiamo alle e-mail inviate a support@brightcraft.example entro 24 ore."],
     "e": [("swapped_number", "Rispondiamo alle e-mail inviate a support@brightcraft.example entro 48 ore.")]},
    {"a": "contact-human", "s": ["Se preferisci, l'assistenza ti richiama al telefono."],
     "e": [("wrong_product", "Se preferisci, l'assistenza ti scrive su WhatsApp.")]},
    {"a": "damaged-items", "s": ["Segnalaci il danno al più tardi 14 giorni dopo la consegna."]},
    {"a": "damaged-items", "s": ["Per un articolo danneggiato ti mandiamo gratis un articolo sostitutivo oppure ti rimborsiamo l'intero importo."],
     "e": [("invented_discount", "Per un articolo danneggiato ti mandiamo gratis un articolo sostitutivo e in più uno sconto del 20 % sul prossimo ordine."),
           ("added_promise", "Per un articolo danneggiato ti mandiamo gratis un articolo sostitutivo con spedizione express.")]},
    {"a": "damaged-items", "s": ["Gli articoli voluminosi come i televisori li ritira gratis il corriere."],
     "e": [("wrong_product", "Gli articoli voluminosi come le cuffie li ritira gratis il corriere.")]},
    {"a": "delivery-delays", "s": ["Se il pacco non è arrivato cinque giorni lavorativi dopo la data prevista, apriamo un'indagine con il corriere."],
     "e": [("swapped_number", "Se il pacco non è arrivato due giorni lavorativi dopo la data prevista, apriamo un'indagine con il corriere.")]},
    {"a": "delivery-delays", "s": ["L'indagine con il corriere dura al massimo tre giorni lavorativi."],
     "e": [("changed_day", "L'indagine con il corriere dura al massimo tre settimane.")]},
    {"a": "delivery-delays", "s": ["Nei periodi di punta come dicembre, la consegna può richiedere due giorni lavorativi in più."],
     "e": [("changed_day", "Nei periodi di punta come novembre, la consegna può richiedere due giorni lavorativi in più.")]},
    {"a": "goodwill-gestures", "s": ["Il buono di cortesia vale il 10 % dell'ordine, fino a un massimo di 20 EUR."],
     "e": [("changed_amount", "Il buono di cortesia vale il 10 % dell'ordine, fino a un massimo di 50 EUR.")]},
    {"a": "goodwill-gestures", "s": ["Il buono resta valido sei mesi."],
     "e": [("swapped_number", "Il buono resta valido dodici mesi.")]},
    {"a": "goodwill-gestures", "s": ["Non ci allineiamo ai prezzi della concorrenza."],
     "e": [("negated_policy", "Ci allineiamo volentieri ai prezzi della concorrenza.")]},
    {"a": "order-status", "s": ["Gli ordini partono dal magazzino entro uno o due giorni lavorativi."],
     "e": [("changed_day", "Gli ordini partono dal magazzino entro una o due settimane.")]},
    {"a": "order-status", "s": ["La consegna standard negli Stati Uniti richiede da tre a cinque giorni lavorativi."],
     "e": [("wrong_product", "La consegna standard in Canada richiede da tre a cinque giorni lavorativi.")]},
    {"a": "payment-problems", "s": ["Accettiamo carte Visa, Mastercard e American Express, oltre a PayPal e bonifico bancario."],
     "e": [("wrong_product", "Accettiamo carte Visa, Mastercard e American Express, oltre a Klarna e bonifico bancario.")]},
    {"a": "payment-problems", "s": ["Non ti chiediamo mai il numero completo della carta o il codice di sicurezza via e-mail o in chat."],
     "e": [("negated_policy", "Ti chiediamo il numero completo della carta e il codice di sicurezza via e-mail o in chat.")]},
    {"a": "returns-refunds.eu", "s": ["Per legge hai 14 giorni dalla consegna per recedere, senza dover dare spiegazioni."],
     "e": [("negated_policy", "Per legge hai 14 giorni dalla consegna per recedere, ma devi indicare un motivo.")]},
    {"a": "returns-refunds.eu", "s": ["Con l'etichetta prepagata di Brightcraft il reso è gratuito."],
     "e": [("changed_amount", "Con l'etichetta prepagata di Brightcraft il reso costa 6,95 EUR.")]},
    {"a": "wrong-items", "s": ["Se l'articolo sbagliato vale meno di 15 EUR, puoi tenerlo."],
     "e": [("changed_amount", "Se l'articolo sbagliato vale meno di 50 EUR, puoi tenerlo.")]},
    {"a": "wrong-items", "s": ["Ti mandiamo l'articolo giusto senza costi e un'etichetta prepagata per il reso."],
     "e": [("added_promise", "Ti mandiamo l'articolo giusto senza costi e ti rimborsiamo anche le spese di spedizione originali.")]},
    {"a": "delivery-delays", "e": [("invented_discount", "Per scusarci del ritardo, ti facciamo uno sconto del 15 % sul prossimo ordine.")]},
]

DAY_CHANGES = [(r"\bvenerdì\b", "sabato"), (r"\bdicembre\b", "gennaio"), (r"\bgiorni lavorativi\b", "settimane"),
               (r"\bgiorni\b", "settimane"), (r"\bore\b", "giorni"), (r"\bminuti\b", "ore"), (r"\bmesi\b", "anni")]
PRODUCT_SWAPS = [(r"\btelevisori\b", "cuffie"), (r"\bPayPal\b", "Apple Pay"), (r"\bchat dal vivo\b", "WhatsApp")]
DISCOUNT_CLAUSES = ["e ti offriamo uno sconto del 15 % sul prossimo ordine", "e in più ti regaliamo un buono da 10 EUR"]


def append_clause(sentence: str, clause: str) -> str | None:
    return f"{sentence[:-1]} {clause}." if sentence.endswith(".") else None
