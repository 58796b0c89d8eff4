"""The demo ISP's people, places and tariffs (used by :mod:`billing.demo`)."""

from __future__ import annotations

from decimal import Decimal

FIRST, LAST = 1001, 1033

# name, street, city, postal code; companies: (name, contact person) in the name slot
PLACES = {
    "Kolín": "280 02", "Kutná Hora": "284 01", "Poděbrady": "290 01", "Velim": "281 01",
    "Pečky": "289 11", "Týnec nad Labem": "281 26", "Cerhenice": "281 02", "Zásmuky": "281 44",
    "Nová Ves I": "280 02", "Český Brod": "282 01", "Sadská": "289 12",
}
ROUTERS = {"Kutná Hora": "kh-bras1", "Poděbrady": "pdb-bras1", "Sadská": "pdb-bras1"}
PEOPLE: list[tuple[str, str, str]] = [
    ("Jan Novák", "Husova 112", "Kolín"),
    ("Marie Svobodová", "Politických vězňů 23", "Kolín"),
    ("Petr Dvořák", "Vocelova 12", "Kutná Hora"),
    ("Lucie Černá", "Nádražní 8", "Poděbrady"),
    ("Tomáš Procházka", "Žižkova 310", "Kolín"),
    ("Kateřina Kučerová", "Palackého 54", "Kutná Hora"),
    ("Jiří Veselý", "Jiráskova 17", "Poděbrady"),
    ("Hana Horáková", "Hlavní 36", "Velim"),
    ("Martin Němec", "Tyršova 221", "Pečky"),
    ("Eva Marková", "Komenského 9", "Týnec nad Labem"),
    ("Pavel Pokorný", "Sadová 14", "Cerhenice"),
    ("Zdeňka Pospíšilová", "Masarykova 402", "Zásmuky"),
    ("Josef Hájek", "Karlov 88", "Kolín"),
    ("Jana Králová", "Čáslavská 12", "Kutná Hora"),
    ("Lukáš Jelínek", "Husova 7", "Poděbrady"),
    ("Veronika Růžičková", "Benešova 19", "Kolín"),
    ("František Beneš", "Na Náměti 5", "Kolín"),
    ("Alena Fialová", "Šultysova 2", "Kutná Hora"),
    ("Miroslav Sedláček", "Palackého 133", "Poděbrady"),
    ("Ludmila Doležalová", "Zahradní 211", "Nová Ves I"),
    ("Ondřej Zeman", "Ovčárecká 301", "Kolín"),
    ("Tereza Kolářová", "Havlíčkova 41", "Český Brod"),
    ("Václav Navrátil", "Riegrova 15", "Kutná Hora"),
    ("Michaela Čermáková", "Tyršova 77", "Pečky"),
    ("Radek Vaněk", "Jungmannova 6", "Poděbrady"),
    ("Pekařství Šťastný s.r.o.|Karel Šťastný", "Kutnohorská 1180", "Kolín"),
    ("Autoservis Urban s.r.o.|Roman Urban", "Průmyslová 462", "Kutná Hora"),
    ("Truhlářství Bartoš s.r.o.|Milan Bartoš", "Jateční 27", "Poděbrady"),
    ("Kavárna U Zámku s.r.o.|Ivana Holubová", "Zámecká 3", "Poděbrady"),
    ("Stanislav Kříž", "Polepská 620", "Kolín"),
    ("Jitka Malá", "Pod Lipami 12", "Sadská"),
    ("Dominik Šimek", "Kmochova 318", "Kolín"),
    ("Barbora Vlčková", "Vítězná 5", "Kutná Hora"),
]
COMPANY_ICO_STEMS = {1026: "2715836", 1027: "2834571", 1028: "0614290", 1029: "2461003"}
# tariff: (price, download kbps, upload kbps, typical GB a day)
TARIFFS = {
    "Internet 50": (Decimal("350.00"), 50_000, 10_000, 3.0),
    "Internet 100": (Decimal("450.00"), 100_000, 20_000, 6.0),
    "Internet 300": (Decimal("600.00"), 300_000, 50_000, 11.0),
}
INSURANCE = ("Pojištění zařízení", Decimal("49.00"))
VOIP = ("Telefonní linka VoIP", Decimal("50.00"))
VOIP_NUMBERS = {
    1001: "+420601234567", 1006: "+420321720106", 1014: "+420327512106",
    1026: "+420321720126", 1029: "+420325612029",
}
INSURED = {1001, 1005, 1009, 1013, 1016, 1020, 1024, 1027, 1031}
MOBILE = ("601", "602", "603", "604", "605", "606", "607", "608", "702", "720", "721", "723",
          "724", "725", "728", "730", "731", "732", "736", "737", "739", "774", "775", "777")
BANKS = ("0800", "0100", "0300", "2010", "0600", "5500", "3030", "0710", "6100")
# customer -> (amount due days ago, description, quantity, unit, unit price, invoice kind)
OVERDUE = {
    1002: (20, "Výjezd technika – výměna konektoru a kabeláže", 1, "ks", "605.00", "regular"),
    1003: (40, "Wi-Fi router TP-Link Archer C6", 1, "ks", "990.00", "goods"),
    1004: (60, "Přeložení přípojky – práce technika", 2, "hod", "484.00", "regular"),
}
PARTLY_PAID = {1012: Decimal("200.00"), 1019: Decimal("300.00")}
OVERPAID = {1010: Decimal("900.00")}  # paid this much on top of the latest invoice
ENDED_SERVICE = 1008  # Internet 50 ended last month, replaced by Internet 100
