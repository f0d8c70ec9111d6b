"""Portuguese (pt-BR): paraphrases of kb/pt statements (s) and hand-planted errors (e). Written after the thresholds
were frozen on the dev half of en/de/fr/es/ja, so both halves of it/pt/nl are unseen data for the scorer."""
from __future__ import annotations

GROUPS = [
    {"a": "account-access", "s": ["O link para redefinir a senha funciona por 60 minutos."],
     "e": [("changed_day", "O link para redefinir a senha funciona por 60 dias.")]},
    {"a": "account-access", "s": ["Depois de cinco tentativas de login sem sucesso, sua conta fica bloqueada por meia hora."],
     "e": [("swapped_number", "Depois de três tentativas de login sem sucesso, sua conta fica bloqueada por meia hora.")]},
    {"a": "cancellations", "s": ["Enquanto o pedido não for despachado, você pode cancelá-lo sem custo."],
     "e": [("negated_policy", "Antes do despacho, você não pode cancelar o pedido.")]},
    {"a": "cancellations", "s": ["Depois que o pedido é despachado, ele não pode mais ser cancelado, mas você pode devolvê-lo."],
     "e": [("negated_policy", "Depois que o pedido é despachado, ele ainda pode ser cancelado.")]},
    {"a": "cancellations", "s": ["O reembolso de um pedido cancelado chega em 3 a 5 dias úteis."],
     "e": [("changed_day", "O reembolso de um pedido cancelado chega em 3 a 5 semanas.")]},
    {"a": "contact-human", "s": ["Nosso chat ao vivo atende de segunda a sexta, das 9:00 às 18:00, no horário local."],
     "e": [("changed_day", "Nosso chat ao vivo atende de segunda a sábado, das 9:00 às 18:00, no horário local."),
           ("changed_day", "Nosso chat ao vivo atende de segunda a sexta, das 9:00 às 20:00, no horário local.")]},
    {"a": "contact-human", "s": ["Respondemos aos e-mails enviados para support@brightcraft.example em até 24 horas."],
     "e": [("swapped_number", "Respondemos aos e-mails enviados para support@brightcraft.example em até 48 horas.")]},
    {"a": "damaged-items", "s": ["Avise sobre o dano em até 14 dias depois da entrega."]},
    {"a": "damaged-items", "s": ["Para um produto danificado, enviamos um novo sem custo ou devolvemos o valor integral."],
     "e": [("invented_discount", "Para um produto danificado, enviamos um novo sem custo e ainda damos 20 % de desconto no próximo pedido."),
           ("added_promise", "Para um produto danificado, enviamos um novo sem custo por entrega expressa.")]},
    {"a": "damaged-items", "s": ["Produtos grandes, como TVs, são retirados pela transportadora sem custo."],
     "e": [("wrong_product", "Produtos grandes, como fones de ouvido, são retirados pela transportadora sem custo.")]},
    {"a": "delivery-delays", "s": ["Se o pacote ainda não chegou cinco dias úteis depois da data prevista, abrimos uma investigação com a transportadora."],
     "e": [("swapped_number", "Se o pacote ainda não chegou dois dias úteis depois da data prevista, abrimos uma investigação com a transportadora.")]},
    {"a": "delivery-delays", "s": ["Na alta temporada, como em dezembro, a entrega pode levar dois dias úteis a mais."],
     "e": [("changed_day", "Na alta temporada, como em novembro, a entrega pode levar dois dias úteis a mais.")]},
    {"a": "goodwill-gestures", "s": ["O cupom de compensação vale 10 % do pedido, com limite de 100 BRL."],
     "e": [("changed_amount", "O cupom de compensação vale 10 % do pedido, com limite de 200 BRL.")]},
    {"a": "goodwill-gestures", "s": ["O cupom pode ser usado durante seis meses."],
     "e": [("swapped_number", "O cupom pode ser usado durante doze meses.")]},
    {"a": "goodwill-gestures", "s": ["Não cobrimos os preços da concorrência."],
     "e": [("negated_policy", "Cobrimos com prazer os preços da concorrência.")]},
    {"a": "order-status", "s": ["Os pedidos saem do centro de distribuição em um a dois dias úteis."],
     "e": [("changed_day", "Os pedidos saem do centro de distribuição em uma a duas semanas.")]},
    {"a": "order-status", "s": ["A entrega padrão nos Estados Unidos leva de três a cinco dias úteis."],
     "e": [("wrong_product", "A entrega padrão no Canadá leva de três a cinco dias úteis.")]},
    {"a": "payment-problems", "s": ["Aceitamos cartões Visa, Mastercard e American Express, além de PayPal e transferência bancária."],
     "e": [("wrong_product", "Aceitamos cartões Visa, Mastercard e American Express, além de Klarna e transferência bancária.")]},
    {"a": "payment-problems", "s": ["Nunca pedimos o número completo do cartão nem o código de segurança por e-mail ou chat."],
     "e": [("negated_policy", "Pedimos o número completo do cartão e o código de segurança por e-mail ou chat.")]},
    {"a": "returns-refunds.br", "s": ["Pelo Código de Defesa do Consumidor, você tem sete dias para desistir de uma compra online."],
     "e": [("swapped_number", "Pelo Código de Defesa do Consumidor, você tem 14 dias para desistir de uma compra online.")]},
    {"a": "returns-refunds.br", "s": ["A Brightcraft amplia o prazo de devolução para 30 dias, e o frete de devolução é grátis."],
     "e": [("negated_policy", "A Brightcraft amplia o prazo de devolução para 30 dias, mas o frete de devolução não é grátis.")]},
    {"a": "returns-refunds.br", "s": ["O reembolso sai em até dez dias úteis depois que a devolução chega."],
     "e": [("swapped_number", "O reembolso sai em até 20 dias úteis depois que a devolução chega.")]},
    {"a": "wrong-items", "s": ["Se o produto errado valer menos de 80 BRL, você pode ficar com ele."],
     "e": [("changed_amount", "Se o produto errado valer menos de 200 BRL, você pode ficar com ele.")]},
    {"a": "wrong-items", "s": ["Enviamos o produto certo sem custo e uma etiqueta pré-paga para devolver o errado."],
     "e": [("added_promise", "Enviamos o produto certo sem custo e ainda reembolsamos o frete original.")]},
    {"a": "delivery-delays", "e": [("invented_discount", "Para compensar o atraso, damos 15 % de desconto no seu próximo pedido.")]},
]

DAY_CHANGES = [(r"\bsexta\b", "sábado"), (r"\bdezembro\b", "janeiro"), (r"\bdias úteis\b", "semanas"),
               (r"\bdias\b", "semanas"), (r"\bhoras\b", "dias"), (r"\bminutos\b", "horas"), (r"\bmeses\b", "anos")]
PRODUCT_SWAPS = [(r"\bTVs\b", "fones de ouvido"), (r"\bPayPal\b", "Apple Pay"), (r"\bchat ao vivo\b", "WhatsApp")]
DISCOUNT_CLAUSES = ["e ainda damos 15 % de desconto no próximo pedido", "e de brinde um cupom de 10 BRL"]


def append_clause(sentence: str, clause: str) -> str | None:
    return f"{sentence[:-1]} {clause}." if sentence.endswith(".") else None
