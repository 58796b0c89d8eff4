"""Benchmark: peak memory of importing a statement just under the size limit, per format.

    .venv/bin/python bench/statement_memory.py [--megabytes 45] [--formats gpc,fio-csv,...]
        [--backends sqlite,postgresql] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--keep DIR] [--database bench_statement_memory]

Writes one statement of about ``--megabytes`` MB in each format (GPC, Fio CSV, Fio JSON,
camt.053; every movement an incoming payment of a customer's VS, one in ten with an unknown
VS; each paying customer a customer of its own, as in a statement of a big ISP; names and
messages with Czech letters), then imports each into a fresh database, SQLite
(a file) and PostgreSQL (a database ``bench_statement_memory`` created anew), each import in
a process of its own, exactly as ``ispzone payments import`` does it (the file given by its
path, parsed, stored and paired in one transaction, committed). Prints per format and backend the
file size, the number of movements, the time and the peak RSS of the importing process
(VmHWM, the high-water mark: interpreter and modules included).

Target (issue 13, item 9): below 300 MB for any accepted file (the limit is
STATEMENT_MAX_BYTES, 50 MiB). docs/bank-statements.md keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DB = "bench_statement_memory"
ACCOUNT = "2001234567/2010"
IBAN = "CZ4720100000002001234567"
FORMATS = ("gpc", "fio-csv", "fio-json", "camt053")
FIRST_DAY = date(2026, 1, 1)
NAMES = ("Jan Novák", "Marie Dvořáková", "Petr Šťastný", "Zdeňka Pospíšilová", "Jiří Žďárský")


def movement(i: int) -> dict:
    """The i-th movement (1-based): the same in every format."""
    return {
        "id": str(30_000_000_000 + i),
        "day": FIRST_DAY + timedelta(days=i % 300),
        "amount": Decimal(450 + i % 500) + Decimal(i % 100) / 100,
        "vs": str(100_000 + i) if i % 10 else "999999999",  # customer i, or nobody
        "ss": f"2026{i:06d}"[-10:],
        "counter": f"{1_000_000 + i % 90_000}",
        "bank": "0800",
        "name": f"{NAMES[i % len(NAMES)][:13]} {i}",  # at most 20: no GPC 076 record
        "message": f"Platba za internet č. {i}, měsíc {i % 12 + 1}",
    }


def _sized(render_one, header: str, footer: str, target: int) -> tuple[str, int]:
    """Movements rendered until the text reaches ``target`` bytes (UTF-8)."""
    parts, size, i = [header], len(header.encode()), 0
    while size + len(footer) < target:
        i += 1
        text = render_one(i)
        parts.append(text)
        size += len(text.encode())
    parts.append(footer)
    return "".join(parts), i


def render_gpc_file(target: int) -> tuple[bytes, int]:
    from billing.bank.statements import ParsedStatement, ParsedTransaction
    from billing.bank.statements.gpc_render import render_gpc

    count = target // 130  # one 075 record, 128 characters + CRLF, a 074 header
    txs = []
    for i in range(1, count + 1):
        m = movement(i)
        txs.append(ParsedTransaction(m["id"], m["day"], m["amount"], "CZK", m["vs"], m["ss"],
                                     "308", f"{m['counter']}/{m['bank']}", m["name"], None, 0))
    data = render_gpc(ParsedStatement("gpc", ACCOUNT, txs, Decimal("0")))
    return data, count


def _total(count: int) -> Decimal:
    return sum((movement(i)["amount"] for i in range(1, count + 1)), Decimal(0))


def render_fio_csv(target: int) -> tuple[bytes, int]:
    def row(i: int) -> str:
        m = movement(i)
        amount = f"{m['amount']:.2f}".replace(".", ",")
        return (f"{m['id']};{m['day']:%d.%m.%Y};{amount};CZK;{m['counter']};\"{m['name']}\";"
                f"{m['bank']};0308;{m['vs']};{m['ss']};\"{m['message']}\";"
                "Bezhotovostní příjem;\r\n")

    header = "ID pohybu;Datum;Objem;Měna;Protiúčet;Název protiúčtu;Kód banky;KS;VS;SS;" \
             "Zpráva pro příjemce;Typ;\r\n"
    body, count = _sized(row, header, "", target - 400)
    closing = f"{_total(count):.2f}".replace(".", ",")
    meta = ("accountId;2001234567\r\nbankId;2010\r\ncurrency;CZK\r\nopeningBalance;0,00\r\n"
            f"closingBalance;{closing}\r\ndateEnd;31.12.2026\r\n\r\n")
    return (meta + body).encode(), count


def render_fio_json(target: int) -> tuple[bytes, int]:
    def item(i: int) -> str:
        m = movement(i)
        columns = {22: int(m["id"]), 0: f"{m['day']}+0100", 1: float(m["amount"]), 14: "CZK",
                   2: m["counter"], 3: m["bank"], 10: m["name"], 4: "0308", 5: m["vs"],
                   6: m["ss"], 16: m["message"]}
        body = ",".join(f'"column{k}":{{"value":{json.dumps(v, ensure_ascii=False)},'
                        f'"name":"c{k}","id":{k}}}' for k, v in columns.items())
        return ("," if i > 1 else "") + "{" + body + "}"

    body, count = _sized(item, "", "", target - 400)
    info = {"accountId": "2001234567", "bankId": "2010", "currency": "CZK", "iban": IBAN,
            "openingBalance": 0, "closingBalance": "CLOSING", "dateEnd": "2026-12-31+0100"}
    head = json.dumps(info).replace('"CLOSING"', f"{_total(count):.2f}")
    text = ('{"accountStatement":{"info":' + head + ',"transactionList":{"transaction":['
            + body + "]}}}")
    return text.encode(), count


def render_camt(target: int) -> tuple[bytes, int]:
    def entry(i: int) -> str:
        m = movement(i)
        return (
            f"<Ntry><Amt Ccy=\"CZK\">{m['amount']:.2f}</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{m['day']}</Dt></BookgDt><ValDt><Dt>{m['day']}</Dt>"
            f"</ValDt><AcctSvcrRef>{m['id']}</AcctSvcrRef><BkTxCd><Prtry><Cd>10000405000</Cd>"
            "<Issr>CBA</Issr></Prtry></BkTxCd><NtryDtls><TxDtls><Refs>"
            f"<EndToEndId>/VS/{m['vs']}/SS/{m['ss']}/KS/0308</EndToEndId></Refs>"
            f"<RltdPties><Dbtr><Nm>{escape(m['name'])}</Nm></Dbtr><DbtrAcct><Id><Othr>"
            f"<Id>{m['counter']}</Id></Othr></Id></DbtrAcct></RltdPties><RltdAgts><DbtrAgt>"
            f"<FinInstnId><Othr><Id>{m['bank']}</Id></Othr></FinInstnId></DbtrAgt></RltdAgts>"
            f"<RmtInf><Ustrd>{escape(m['message'])}</Ustrd></RmtInf></TxDtls></NtryDtls>"
            "</Ntry>\n"
        )

    body, count = _sized(entry, "", "", target - 1500)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>bench</MsgId><CreDtTm>2026-12-31T20:00:00</CreDtTm></GrpHdr><Stmt>"
        f"<Id>bench-1</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>CZK</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">0.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-01</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">{_total(count):.2f}'
        "</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-31</Dt></Dt></Bal>\n"
    )
    return (head + body + "</Stmt></BkToCstmrStmt></Document>\n").encode(), count


RENDERERS = {"gpc": render_gpc_file, "fio-csv": render_fio_csv, "fio-json": render_fio_json,
             "camt053": render_camt}


def fresh_database(backend: str, admin_url: str, folder: Path, fmt: str, count: int,
                   db: str = DB) -> str:
    from bench._db import fresh_database as fresh_pg_database
    from core import schema
    from core.db import make_engine

    if backend == "sqlite":
        path = folder / f"{fmt}.sqlite3"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = fresh_pg_database(admin_url, db)
    engine = make_engine(url)
    schema.upgrade(engine)
    with engine.begin() as conn:  # customer i has the number 100000 + i, the VS it pays with
        from sqlalchemy import text

        conn.execute(
            text("INSERT INTO customer (id, customer_number, is_company, name, street, city, "
                 "postal_code, country, language, created_at, enforcement_exempt) VALUES "
                 "(:id, :number, false, :name, 'Hlavní 1', 'Kolín', '280 02', 'CZ', 'cs', "
                 "'2026-01-01 00:00:00', false)"),
            [{"id": i, "number": str(100_000 + i), "name": f"Zákazník {i}"}
             for i in range(1, count + 1)],
        )
    engine.dispose()
    return url


def peak_mb() -> float:
    """The process's peak RSS (VmHWM). Not getrusage's ru_maxrss: on Linux that keeps the
    high-water mark of the process before its execve, i.e. of the forked copy of the parent
    that started it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, path: Path) -> None:
    """The import, as `payments import` does it; prints a JSON line."""
    from billing.bank.importing import import_statement
    from core.db import make_engine, make_session_factory

    before = peak_mb()
    engine = make_engine(url)
    session = make_session_factory(engine)()
    t0 = time.perf_counter()
    report = import_statement(session, path, path.name, bank_code="2010", max_bytes=None)
    session.commit()
    seconds = time.perf_counter() - t0
    peak = peak_mb()
    print(json.dumps({"report": str(report), "seconds": seconds, "peak_mb": peak,
                      "start_mb": before, "total": report.total, "matched": report.matched}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--megabytes", type=float, default=45.0)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--keep", type=Path, help="write the statements and databases here")
    ap.add_argument("--database", default=DB, help="the PostgreSQL database (dropped, made anew)")
    ap.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="statement-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    target = int(args.megabytes * 1_000_000)
    rows = []
    for fmt in args.formats.split(","):
        data, count = RENDERERS[fmt](target)
        path = folder / f"statement.{fmt}"
        path.write_bytes(data)
        del data
        for backend in args.backends.split(","):
            url = fresh_database(backend, args.admin_url, folder, fmt, count, args.database)
            out = subprocess.run([sys.executable, __file__, "--child", url, str(path)],
                                 check=True, capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            rows.append((fmt, backend, path.stat().st_size, result))
            print(f"{fmt:9} {backend:10} {path.stat().st_size / 1e6:6.1f} MB "
                  f"{result['total']:>8,} movements  {result['seconds']:7.1f} s  "
                  f"peak RSS {result['peak_mb']:6.0f} MB (interpreter + modules "
                  f"{result['start_mb']:.0f} MB)  {'OK' if result['peak_mb'] < 300 else 'OVER'}",
                  flush=True)
    worst = max(r[3]["peak_mb"] for r in rows)
    print(f"highest peak RSS: {worst:.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
