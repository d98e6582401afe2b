#!/bin/sh
# End to end: a node `ws` client through dpixd's forwarder (explicit
# mode), as a WebRTC/WSS web client behind a configured proxy would: a
# minimal HTTP CONNECT agent (http.request CONNECT, then tls.connect over
# the socket) handed to ws. A whitelisted WSS server echoes a message and
# the tunnel leaves a bypass EVE line; a name no pack lists gets 403 and
# the client fails. The ws package is installed with npm into
# $DPIX_NODE_CACHE (default /var/cache/dpix-tests/node) the first time, as
# in traffic.sh. Needs root, iproute2, openssl, node, npm; skipped (77)
# without them.
set -u
: "${top_srcdir:?}" "${DPIXD:?}"
. "$top_srcdir/tests/e2e/lib.sh"
e2e_require ip openssl node npm
e2e_init dpw
e2e_topology

e2e_node_ws
printf '198.18.2.2 %s\n' ws.openrainbow.com other.example | e2e_hosts "$G"

e2e_wss_server

cat > "$tmp/pack.rules" << 'EOR'
pack    e2e-ws
version 1
date    2026-12
source  "tests/e2e/proxy-ws.sh"
domains wss {
	ws.openrainbow.com
}
rule wss-connect bypass connect in wss connect-port 8443 service rainbow
EOR
e2e_forwarder --proxy-listen 198.18.1.1:3128 || exit 1

# ws with a CONNECT agent: the agent's socket is TLS over the tunnel.
cat > "$tmp/ws.js" << 'EOJ'
const http = require("http"), https = require("https"), tls = require("tls");
const WebSocket = require(process.argv[2] + "/node_modules/ws");
class ConnectAgent extends https.Agent {
  createConnection(o, cb) {
    http.request({ host: "198.18.1.1", port: 3128, method: "CONNECT", path: `${o.host}:${o.port}` })
      .on("connect", (res, socket) => res.statusCode !== 200 ? cb(new Error(`proxy ${res.statusCode}`))
        : cb(null, tls.connect({ socket, servername: o.host, rejectUnauthorized: false })))
      .on("error", cb).end();
  }
}
const ws = new WebSocket(`wss://${process.argv[3]}:8443/`, { agent: new ConnectAgent() });
const t = setTimeout(() => process.exit(2), 5000);
ws.on("open", () => ws.send("dpix"));
ws.on("message", (m) => { clearTimeout(t); ws.close(); process.exit(String(m) === "dpix" ? 0 : 1); });
ws.on("error", (e) => { console.log(e.message); process.exit(3); });
EOJ
out=$(ip netns exec "$C" node "$tmp/ws.js" "$node_cache" ws.openrainbow.com 2>&1)
rc=$?
[ $rc = 0 ] && ok "ws client through the CONNECT agent: echo over WSS" || bad "ws client: $rc $out"
for _ in $(seq 30); do
	grep -q '"host":"ws.openrainbow.com","port":8443,"status":200' "$tmp/eve.json" 2> /dev/null && break
	sleep 0.1
done
grep '"host":"ws.openrainbow.com","port":8443,"status":200' "$tmp/eve.json" 2> /dev/null |
	grep -q '"sni":"ws.openrainbow.com".*"mode":"explicit","decision":"tunnel".*"action":"bypass","rule":"wss-connect"' &&
	ok "EVE: the ws tunnel, bypass by wss-connect" || bad "EVE for the ws tunnel: $(cat "$tmp/eve.json")"
out=$(ip netns exec "$C" node "$tmp/ws.js" "$node_cache" other.example 2>&1)
rc=$?
[ $rc = 3 ] && [ "$out" = "proxy 403" ] && ok "ws to an unlisted name: the agent gets 403" ||
	bad "ws to an unlisted name: $rc $out"
[ $fails = 0 ] || {
	echo "--- dpixd.log"
	tail -20 "$tmp/dpixd.log"
}
exit $((fails > 0))
