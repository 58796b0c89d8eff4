"""Reports for a period, Flask-free: VAT per rate with the kontrolní hlášení split
(:mod:`billing.reports.vat`), debtors by age (:mod:`billing.reports.debtors`), the payments
journal (:mod:`billing.reports.payments`), their CSV exports (:mod:`billing.reports.csv_export`)
and the Pohoda XML of the period's invoices (:mod:`billing.reports.pohoda`).

Every function takes a SQLAlchemy ``Session`` and plain values and only reads; the CLI
(``ispzone reports``, web/cli_reports.py) and the console call the same functions.
docs/reports.md explains each report to the operator.
"""
