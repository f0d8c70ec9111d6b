"""Throughput of the register scorer (assistant/register.py) on short support replies, per language.

    python bench/bench_register.py              # ~2 s per language
    python bench/bench_register.py --n 20000 --cocoa /work/shared/datasets/cocoa-mt/train

Prints texts/s by wall clock and by this process's CPU time (the latter is steadier on a busy machine).
Each text is made unique (an order number is appended) so per-word caches do not flatter the figure.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.register import COCOA_DOMAINS, classify_register, load_cocoa, supported_languages  # noqa: E402

REPLIES = {
    "de": ["Können Sie uns ein Foto des Pakets schicken?", "Danke für deine Nachricht, wir kümmern uns darum!",
           "Ihre Rückerstattung wurde heute veranlasst.", "Das Paket kommt in zwei Tagen an."],
    "fr": ["Pouvez-vous nous envoyer une photo du colis ?", "Merci pour ton message, on s'en occupe !",
           "Votre remboursement a été effectué aujourd'hui.", "Le colis arrive dans deux jours."],
    "es": ["¿Puede enviarnos una foto del paquete?", "¡Gracias por tu mensaje, nos encargamos!",
           "Su reembolso se ha tramitado hoy.", "El paquete llega en dos días."],
    "it": ["Può inviarci una foto del pacco?", "Grazie per il tuo messaggio, ce ne occupiamo noi!",
           "Il Suo rimborso è stato disposto oggi.", "Il pacco arriva tra due giorni."],
    "pt": ["Pode enviar-nos uma fotografia da encomenda?", "Obrigado pela tua mensagem, tratamos disso!",
           "O seu reembolso foi processado hoje.", "A encomenda chega dentro de dois dias."],
    "nl": ["Kunt u ons een foto van het pakket sturen?", "Bedankt voor je bericht, we regelen het!",
           "Uw terugbetaling is vandaag verwerkt.", "Het pakket komt over twee dagen aan."],
    "hi": ["क्या आप हमें पैकेज की एक फ़ोटो भेज सकते हैं?", "तुम्हारे संदेश के लिए धन्यवाद, हम देख लेंगे!",
           "आपका रिफ़ंड आज शुरू कर दिया गया है।", "पैकेज दो दिनों में पहुँच जाएगा।"],
    "ja": ["荷物の写真を送っていただけますか？", "メッセージありがとう、すぐ対応するね！",
           "本日返金手続きを行いました。", "荷物は二日後に届きます。"],
    "ko": ["택배 사진을 보내 주시겠어요?", "메시지 고마워, 바로 처리할게!", "오늘 환불 처리해 드렸습니다.", "택배는 이틀 후에 도착합니다."],
    "en": ["Could you send us a photo of the parcel?", "Thanks for your message, we're on it!",
           "Your refund was issued today.", "The parcel arrives in two days."],
}


def corpus(language: str, n: int, cocoa: Path | None) -> list[str]:
    base = REPLIES.get(language, REPLIES["en"])
    if cocoa is not None and (cocoa / f"en-{language}").is_dir():
        base = [t for d in COCOA_DOMAINS for pair in load_cocoa(cocoa, language, d) for t in pair]
    return [f"{base[i % len(base)]} #{100000 + i}" for i in range(n)]


def run(language: str, texts: list[str]) -> tuple[float, float]:
    classify_register(texts[0], language)  # load rules and model
    wall, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        classify_register(text, language)
    return len(texts) / (time.perf_counter() - wall), len(texts) / max(time.process_time() - cpu, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="texts per language")
    parser.add_argument("--languages", default="de,fr,es,it,pt,nl,hi,ja,ko,en")
    parser.add_argument("--cocoa", type=Path, default=None, help="use CoCoA-MT references from this folder instead")
    args = parser.parse_args(argv)
    languages = [lang for lang in args.languages.split(",") if lang in supported_languages()]
    print(f"{'language':<9}{'texts':>7}{'avg chars':>11}{'texts/s (wall)':>16}{'texts/s (cpu)':>15}")
    walls, cpus = [], []
    for lang in languages:
        texts = corpus(lang, args.n, args.cocoa)
        wall, cpu = run(lang, texts)
        walls.append(wall)
        cpus.append(cpu)
        print(f"{lang:<9}{len(texts):>7}{statistics.mean(map(len, texts)):>11.0f}{wall:>16,.0f}{cpu:>15,.0f}")
    print(f"{'min':<27}{min(walls):>16,.0f}{min(cpus):>15,.0f}")
    print(f"{'mean':<27}{statistics.mean(walls):>16,.0f}{statistics.mean(cpus):>15,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
