# ispzone: what a MikroTik router (RouterOS v7) needs for enforcement.
#
#   warned  (address list) - plain-HTTP traffic (TCP 80) is dst-natted to the ispzone server,
#                            which answers any foreign Host with a redirect to /warning.
#   blocked (address list) - walled garden: DNS, the client zone / warning server and the
#                            sites in "ispzone-allowed" pass; everything else is rejected,
#                            and plain HTTP is sent to /warning (payment instructions).
#
# The lists are filled by ispzone: over the RouterOS API (driver "routeros") or, for PPPoE
# customers authorised by FreeRADIUS, by the Mikrotik-Address-List reply attribute (driver
# "radius"; the router adds the session's address to the list by itself).
#
# Fill in the values in the block below (see README.md in this folder), upload the file and
#   /import file-name=ispzone.rsc
# Importing again replaces the rules this script added before (they carry comment "ispzone").
# Everything runs in one { } block so that the :local values reach every command.

{
# -- fill in ------------------------------------------------------------------------------
# The ispzone server (the host of PUBLIC_URL) as the router reaches it.
:local zoneIP "192.0.2.10"
# The port on that server that answers redirected HTTP (the reverse proxy's port-80
# default_server; see README). 80 unless you run a dedicated listener.
:local warnPort 80
# The FreeRADIUS server that sends Disconnect/CoA requests (empty = RADIUS not used).
:local radiusIP "192.0.2.11"
# The router's own name/address that ispzone connects to (for the API-SSL certificate).
:local routerName "router1.example.net"
:local routerIP "192.0.2.1"
# The API account ispzone logs in with (put the same password in the router's ispzone row).
:local apiUser "ispzone"
:local apiPassword "CHANGE-ME-long-random-password"
# Extra sites a blocked customer may reach (the bank's internet banking); names are
# resolved by the router (FQDN address-list entries) and kept up to date.
:local allowedSites {"www.fio.cz"; "ib.fio.cz"}
# -----------------------------------------------------------------------------------------

:put "ispzone: removing the rules of a previous import"
/ip firewall filter remove [find comment~"^ispzone"]
/ip firewall nat remove [find comment~"^ispzone"]
/ip firewall address-list remove [find list="ispzone-allowed"]

# -- the walled garden's destinations -------------------------------------------------------
/ip firewall address-list add list=ispzone-allowed address=$zoneIP comment="ispzone: client zone and /warning"
:foreach site in=$allowedSites do={
    /ip firewall address-list add list=ispzone-allowed address=$site comment="ispzone: allowed for blocked customers"
}

# -- NAT: warned (and blocked) HTTP goes to the warning server ------------------------------
# Rules are inserted at the top of their chain, in this order, before masquerade and
# before any earlier dst-nat rules. An "anchor" rule is used when the chain is empty.
/ip firewall nat
:if ([:len [find chain=dstnat]] = 0) do={ add chain=dstnat action=passthrough comment="ispzone-anchor" }
:if ([:len [find chain=srcnat]] = 0) do={ add chain=srcnat action=passthrough comment="ispzone-anchor" }
:local dstTop [:pick [find chain=dstnat] 0]
:local srcTop [:pick [find chain=srcnat] 0]
add chain=dstnat src-address-list=warned dst-address=("!" . $zoneIP) protocol=tcp dst-port=80 \
    action=dst-nat to-addresses=$zoneIP to-ports=$warnPort place-before=$dstTop \
    comment="ispzone: warned - web traffic to /warning"
add chain=dstnat src-address-list=blocked dst-address=("!" . $zoneIP) protocol=tcp dst-port=80 \
    action=dst-nat to-addresses=$zoneIP to-ports=$warnPort place-before=$dstTop \
    comment="ispzone: blocked - web traffic to payment instructions"
# Keep the customer's own source address towards the server: /warning recognises the
# customer by it. (Only possible when the server routes the customers' addresses back
# through this router; otherwise remove this rule and the customers log in instead.)
add chain=srcnat dst-address=$zoneIP action=accept place-before=$srcTop \
    comment="ispzone: no masquerade towards the warning server"
remove [find comment="ispzone-anchor"]

# -- filter: the walled garden for blocked, and what the router accepts from ispzone ----------
/ip firewall filter
:if ([:len [find chain=forward]] = 0) do={ add chain=forward action=passthrough comment="ispzone-anchor" }
:if ([:len [find chain=input]] = 0) do={ add chain=input action=passthrough comment="ispzone-anchor" }
:local fwdTop [:pick [find chain=forward] 0]
:local inTop [:pick [find chain=input] 0]
add chain=forward src-address-list=blocked protocol=udp dst-port=53 action=accept \
    place-before=$fwdTop comment="ispzone: blocked - DNS"
add chain=forward src-address-list=blocked protocol=tcp dst-port=53 action=accept \
    place-before=$fwdTop comment="ispzone: blocked - DNS over TCP"
add chain=forward src-address-list=blocked dst-address-list=ispzone-allowed action=accept \
    place-before=$fwdTop comment="ispzone: blocked - client zone, /warning, bank"
add chain=forward src-address-list=blocked action=reject reject-with=icmp-admin-prohibited \
    place-before=$fwdTop comment="ispzone: blocked - everything else"
# The API-SSL service and incoming Disconnect/CoA, only from the ispzone / RADIUS servers.
add chain=input src-address=$zoneIP protocol=tcp dst-port=8729 action=accept \
    place-before=$inTop comment="ispzone: API-SSL from the ispzone server"
:if ([:len $radiusIP] > 0) do={
    add chain=input src-address=$radiusIP protocol=udp dst-port=3799 action=accept \
        place-before=$inTop comment="ispzone: RADIUS Disconnect/CoA"
}
remove [find comment="ispzone-anchor"]

# -- the API account: address lists and PPP sessions, nothing else ----------------------------
# api = may use the API; read = list entries and sessions; write = add/remove entries and
# remove PPP active sessions. No ssh/winbox/web/ftp/policy/sensitive/reboot.
/user group
:if ([:len [find name=ispzone-api]] = 0) do={
    add name=ispzone-api policy=api,read,write comment="ispzone: enforcement"
} else={
    set [find name=ispzone-api] policy=api,read,write
}
/user
:if ([:len [find name=$apiUser]] = 0) do={
    add name=$apiUser group=ispzone-api password=$apiPassword address=($zoneIP . "/32") \
        comment="ispzone: enforcement (API-SSL only)"
} else={
    set [find name=$apiUser] group=ispzone-api password=$apiPassword address=($zoneIP . "/32")
}

# -- API-SSL with a certificate of the router's own CA ----------------------------------------
# Signing takes a few seconds. Export the CA afterwards and give it to ispzone (README).
/certificate
:if ([:len [find name=ispzone-ca]] = 0) do={
    add name=ispzone-ca common-name=ispzone-ca key-usage=key-cert-sign,crl-sign days-valid=3650
    sign ispzone-ca
    :delay 5s
}
:if ([:len [find name=ispzone-api]] = 0) do={
    add name=ispzone-api common-name=$routerName \
        subject-alt-name=("DNS:" . $routerName . ",IP:" . $routerIP) days-valid=3650
    sign ispzone-api ca=ispzone-ca
    :delay 5s
}
/ip service set api-ssl certificate=ispzone-api port=8729 address=($zoneIP . "/32") disabled=no
# The plain API sends the password in clear text: keep it off.
/ip service set api disabled=yes

# -- RADIUS: accept Disconnect-Request / CoA (RFC 5176) from the RADIUS server ----------------
/radius incoming set accept=yes port=3799

:put "ispzone: done. Export the CA: /certificate export-certificate ispzone-ca"
}
