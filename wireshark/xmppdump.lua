-- xmppdump.lua — Wireshark/tshark plugin from the xmppdump project.
--
-- 1. Hands more XMPP to Wireshark's own XMPP dissector: s2s on TCP 5269, components
--    on 5347, direct TLS (XEP-0368) on 5223 and 5270 once TLS is decrypted, and, by a
--    heuristic, any TCP conversation whose first bytes are `<?xml` or a start tag
--    naming a jabber namespace.
-- 2. Adds presence-overhead statistics as xmppdump computes them: per-kind stanza
--    counts and bytes, and presence bytes / stanza bytes. In Wireshark:
--    Statistics → XMPP → xmppdump presence overhead. In tshark:
--      tshark -q -X lua_script:xmppdump.lua -X lua_script1:stats -r FILE
--
-- Install: copy this file into the personal plugins folder
-- (~/.local/lib/wireshark/plugins/ on Linux; Help → About → Folders shows it).

local xmpp = Dissector.get("xmpp")

local tcp_port = DissectorTable.get("tcp.port")
tcp_port:add(5269, xmpp) -- RFC 6120 s2s
tcp_port:add(5347, xmpp) -- XEP-0114 components

local ok, tls_port = pcall(DissectorTable.get, "tls.port")
if ok and tls_port then
  tls_port:add(5223, xmpp) -- XEP-0368 direct TLS, c2s
  tls_port:add(5270, xmpp) -- XEP-0368 direct TLS, s2s
end

-- Heuristic: XMPP on any port, recognised by its first bytes.
local heur = Proto("xmppdump_heur", "XMPP on any port (xmppdump)")

local function looks_like_xmpp(tvb)
  local len = tvb:len()
  if len < 10 then return false end
  local head = tvb:raw(0, math.min(len, 1024))
  local first = head:match("^%s*()")
  if head:sub(first, first) ~= "<" then return false end
  local second = head:sub(first + 1, first + 1)
  if not (second == "?" or second:match("[%a_:]")) then return false end
  return head:find("http://etherx.jabber.org/streams", 1, true) ~= nil
      or head:find("jabber:", 1, true) ~= nil
end

-- Once recognised, the rest of the connection comes here and goes on to XMPP.
function heur.dissector(tvb, pinfo, tree)
  return xmpp:call(tvb, pinfo, tree)
end

heur:register_heuristic("tcp", function(tvb, pinfo, tree)
  if not looks_like_xmpp(tvb) then return false end
  pinfo.conversation = heur
  heur.dissector(tvb, pinfo, tree)
  return true
end)

-- Statistics: the same classes as `xmppdump stats`.
local fields = {
  message = Field.new("xmpp.message"),
  presence = Field.new("xmpp.presence"),
  iq = Field.new("xmpp.iq"),
}

local function new_totals()
  return { message = { 0, 0 }, presence = { 0, 0 }, iq = { 0, 0 } }
end

local totals = new_totals()

local function report()
  local lines = { "xmppdump presence overhead (stanzas seen by Wireshark's XMPP dissector)" }
  local stanza_bytes = 0
  for _, kind in ipairs({ "message", "presence", "iq" }) do
    local t = totals[kind]
    stanza_bytes = stanza_bytes + t[2]
    lines[#lines + 1] = string.format("%-9s %8d stanzas %12d bytes", kind, t[1], t[2])
  end
  if stanza_bytes > 0 then
    lines[#lines + 1] = string.format("presence share of stanza bytes: %.1f%%",
      100 * totals.presence[2] / stanza_bytes)
  else
    lines[#lines + 1] = "presence share of stanza bytes: -"
  end
  return table.concat(lines, "\n")
end

local function start_tap(draw)
  local tap = Listener.new("frame", "xmpp")
  function tap.packet()
    for kind, field in pairs(fields) do
      for _, fi in ipairs({ field() }) do
        totals[kind][1] = totals[kind][1] + 1
        totals[kind][2] = totals[kind][2] + fi.len
      end
    end
  end
  function tap.reset() totals = new_totals() end
  function tap.draw() draw(report()) end
  return tap
end

local args = { ... }
for _, a in ipairs(args) do
  if a == "stats" then start_tap(print) end
end

if gui_enabled() then
  register_menu("XMPP/xmppdump presence overhead", function()
    local win = TextWindow.new("xmppdump presence overhead")
    local tap = start_tap(function(text) win:set(text) end)
    win:set_atclose(function() tap:remove() end)
    retap_packets()
  end, MENU_STAT_GENERIC)
end
