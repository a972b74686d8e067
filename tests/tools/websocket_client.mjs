// A real XMPP client library, xmpp.js (@xmpp/client from npm), over WebSocket
// (RFC 7395), for captures/make/prosody-websocket.sh and the live test: logs in as
// juliet (SCRAM-SHA-1), binds, sends presence, a chat message to romeo and a ping,
// and closes the stream. In the clear (ws://), or with `wss` over TLS (wss://; the
// caller allows a self-signed certificate with NODE_TLS_REJECT_UNAUTHORIZED=0 and
// has Node.js write the session keys with --tls-keylog). Over TLS it then also loads
// a page from the same HTTPS port, as a browser does next to its wss:// connection:
// HTTP that is not XMPP, which xmppdump must pass over.
//
// Usage: node tests/tools/websocket_client.mjs PORT [wss]
// (dependencies: `npm ci` in tests/tools/xmppjs)
import { createRequire } from "node:module";

const require = createRequire(new URL("./xmppjs/package.json", import.meta.url));
// Node.js 20 has no WebSocket class of its own; browsers and Node.js 22 do.
globalThis.WebSocket ??= require("ws").WebSocket;
// With WS_DEFLATE=1 (captures/make/ws-deflate.sh) ws offers permessage-deflate and
// compresses every message, not only those of 1 KiB or more (its default).
if (process.env.WS_DEFLATE === "1") {
  const Base = require("ws").WebSocket;
  globalThis.WebSocket = class extends Base {
    constructor(address, protocols) {
      super(address, protocols, { perMessageDeflate: { threshold: 0 } });
    }
  };
}
const { client, xml } = await import(require.resolve("@xmpp/client"));

const port = process.argv[2];
const scheme = process.argv[3] === "wss" ? "wss" : "ws";
const xmpp = client({
  service: `${scheme}://127.0.0.1:${port}/xmpp-websocket`,
  domain: "localhost",
  resource: "browser",
  username: "juliet",
  password: "secret",
});
const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 15000);
xmpp.on("error", (err) => {
  console.error(err);
  process.exit(1);
});
xmpp.on("online", async () => {
  await xmpp.send(xml("presence", {}, xml("show", {}, "chat")));
  await xmpp.send(
    xml("message", { to: "romeo@localhost", type: "chat", id: "ws1" }, xml("body", {}, "hello over WebSocket")),
  );
  await xmpp.iqCaller.get(xml("ping", "urn:xmpp:ping"), "localhost");
  await xmpp.stop();
  if (scheme === "wss") {
    await fetchPage();
  }
  clearTimeout(timer);
});
await xmpp.start();

// GET / on the HTTPS port over a connection of its own.
async function fetchPage() {
  const https = await import("node:https");
  await new Promise((resolve, reject) => {
    const request = https.get(
      { host: "127.0.0.1", port, path: "/", agent: false, servername: "localhost" },
      (response) => {
        response.resume();
        response.on("end", resolve);
      },
    );
    request.on("error", reject);
  });
}
