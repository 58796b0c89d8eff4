"""Cash at the till: cash payments and their receipts (docs/money-acts.md)."""
