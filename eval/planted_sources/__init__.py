"""Hand-written sources of eval/data/planted_errors.jsonl, one module per language (see build_planted_errors.py)."""
