"""The client zone's Services page shows the PPPoE user name and password a customer needs
to set up their router (behind a "show" control, with copy buttons), in Czech and English;
only their own."""
from __future__ import annotations

import re
from datetime import date

from billing.customers import services


def test_services_page_shows_pppoe_credentials(auth, client, session, make_customer):
    customer = make_customer(number="8801", password="zone-pass", internet_ip="100.64.11.1")
    added = services.add_service(session, customer, kind="internet", name="Internet 300",
                                 price="650", valid_from=date(2024, 1, 1), ips=["100.64.11.2"],
                                 generate_pppoe=True, actor="operator:podpora")
    session.commit()
    other = make_customer(number="8802", internet_ip="100.64.11.3")
    theirs = services.set_pppoe(session, other.services[0], actor="operator:podpora",
                                generate=True)
    session.commit()

    auth.login("8801", "zone-pass")
    html = client.get("/services").get_data(as_text=True)
    assert (f'<code class="copyable" id="pppoe-user-{added.service.id}" title="Kliknutím '
            f'označíte, pak zkopírujte (Ctrl+C)">{added.service.pppoe_username}</code>') in html
    assert (f'<details class="secret"><summary>Zobrazit heslo</summary>'
            f'<code class="copyable" id="pppoe-password-{added.service.id}"') in html
    # the password only behind "Show password", with a copy button (static/zone.js) beside it
    secret = html[html.index('<details class="secret">'):]
    secret = secret[:secret.index("</details>")]
    assert f">{added.pppoe_password}</code>" in secret
    assert f'data-copy="{added.pppoe_password}"' in secret
    assert "Heslo PPPoE" in html and "Ctrl+C" in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)  # no inline script (tests/security)
    assert theirs not in html
    # the first service has a user name only when one is set: none here, and no password
    assert html.count('<details class="secret">') == 1



def test_services_page_in_english(auth, client, session, make_customer):
    customer = make_customer(number="8803", password="zone-pass", internet_ip="100.64.11.4",
                             language="en")
    password = services.set_pppoe(session, customer.services[0], actor="operator:podpora",
                                  password="my-router-pass")
    session.commit()
    auth.login("8803", "zone-pass")
    html = client.get("/services").get_data(as_text=True)
    assert "PPPoE password" in html and "<summary>Show password</summary>" in html
    assert f">{password}</code>" in html
    assert "connection type PPPoE" in html


def test_a_click_selects_the_whole_value(client):
    css = client.get("/static/zone.css").get_data(as_text=True)
    assert "code.copyable, details.secret code { user-select: all;" in css
