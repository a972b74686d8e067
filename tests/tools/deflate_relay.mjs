// A WebSocket server that speaks permessage-deflate (RFC 7692), Node's `ws` with
// perMessageDeflate, in front of prosody's mod_websocket (which does not): for
// captures/make/ws-deflate.sh. It accepts the client's upgrade on PORT with the
// extension (compressing every message, threshold 0; with `nctx` neither side
// keeps context between messages), opens a plain WebSocket to prosody on UPSTREAM
// and relays each message both ways. Every message it relays is logged to TRUTH
// (JSON) as the ground truth of what xmppdump must inflate: its direction, the
// element's name and id, its length in bytes.
//
// Usage: node tests/tools/deflate_relay.mjs PORT UPSTREAM TRUTH [nctx]
// (dependencies: `npm ci` in tests/tools/xmppjs)
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const require = createRequire(new URL("./xmppjs/package.json", import.meta.url));
const { WebSocket, WebSocketServer } = require("ws");

const [port, upstream, truthPath, mode] = process.argv.slice(2);
const nctx = mode === "nctx";
const log = [];
let accepted = null;

function entry(dir, data) {
  const text = data.toString("utf8");
  const name = /^<([^\s>/]+)/.exec(text)?.[1] ?? "";
  const id = /\sid=['"]([^'"]*)['"]/.exec(text)?.[1] ?? "";
  log.push({ dir, name, id, bytes: Buffer.byteLength(text) });
}

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(port),
  handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false),
  perMessageDeflate: {
    threshold: 0,
    serverNoContextTakeover: nctx,
    clientNoContextTakeover: nctx,
  },
});
server.on("headers", (headers) => {
  accepted = headers.find((h) => h.toLowerCase().startsWith("sec-websocket-extensions")) ?? null;
});
server.on("connection", (client) => {
  const queue = [];
  const up = new WebSocket(`ws://127.0.0.1:${upstream}/xmpp-websocket`, ["xmpp"], {
    perMessageDeflate: false,
  });
  up.on("open", () => queue.splice(0).forEach((m) => up.send(m)));
  client.on("message", (data) => {
    entry("to_server", data);
    const text = data.toString("utf8");
    if (up.readyState === WebSocket.OPEN) up.send(text);
    else queue.push(text);
  });
  up.on("message", (data) => {
    entry("to_client", data);
    client.send(data.toString("utf8"));
  });
  up.on("close", () => client.close());
  client.on("close", () => {
    up.close();
    writeFileSync(truthPath, JSON.stringify({ extensions: accepted, nctx, messages: log }, null, 1) + "\n");
    server.close();
  });
});
console.log("listening");
