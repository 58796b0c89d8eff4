"""The domain core: customers, invoices, ledger, payments. No Flask imports."""
