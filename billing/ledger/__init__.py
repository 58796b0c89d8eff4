"""The double-entry ledger (docs/ledger.md): :mod:`postings` is the only writer of legs,
:mod:`balances` reads balances and invoice states (sums of legs and allocations)."""
