// The unblocking center: one static page that talks to the JSON API.
// It builds every element from text with textContent, never innerHTML, so
// request fields typed by tenants cannot inject markup.
#include "egress/api.h"

namespace mailport::egress {

const std::string& UnblockingCenterPage() {
  static const std::string kPage = R"html(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Port 25 unblocking center</title>
<style>
body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}
fieldset{margin-bottom:1em} label{display:block;margin:.3em 0}
input,textarea{width:100%;box-sizing:border-box} td,th{padding:.2em .5em;text-align:left}
.error{color:#a00} .ok{color:#060}
</style></head><body>
<h1>Port 25 unblocking center</h1>
<p>Outbound TCP port 25 is blocked for instance addresses. Use port 587
(STARTTLS) or 465 (TLS) to submit mail through a relay. If your instance must
deliver mail directly, file a request below.</p>
<fieldset><legend>File a request</legend>
<label>Instance address or prefix <input id="address"></label>
<label>Use case <textarea id="reason" rows="3"></textarea></label>
<label>Sending domain <input id="domain"></label>
<label>Expected messages per day <input id="volume" type="number" min="0" value="0"></label>
<label>Your name or account <input id="requester"></label>
<button id="submit">Submit request</button>
<p id="submit-result" role="status"></p>
</fieldset>
<fieldset><legend>Check a request</legend>
<label>Request number <input id="check-id"></label>
<label>Ticket <input id="check-ticket"></label>
<button id="check">Check state</button>
<p id="check-result" role="status"></p>
</fieldset>
<fieldset><legend>Operators</legend>
<label>Operator token <input id="token" type="password"></label>
<label>Comment for decisions <input id="comment"></label>
<button id="load">Load requests</button>
<p id="operator-result" role="status"></p>
<table><thead><tr><th>#</th><th>Address</th><th>Domain</th><th>Volume</th>
<th>Reason</th><th>State</th><th>Actions</th></tr></thead>
<tbody id="requests"></tbody></table>
</fieldset>
<script>
function show(id, text, ok) {
  const element = document.getElementById(id);
  element.textContent = text;
  element.className = ok ? "ok" : "error";
}
async function call(method, url, body, token) {
  const headers = {"Content-Type": "application/json"};
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(url, {method, headers,
      body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}
document.getElementById("submit").onclick = async () => {
  try {
    const data = await call("POST", "/api/v1/requests", {
      address: document.getElementById("address").value.trim(),
      reason: document.getElementById("reason").value,
      domain: document.getElementById("domain").value.trim(),
      daily_volume: parseInt(document.getElementById("volume").value || "0", 10),
      requester: document.getElementById("requester").value.trim()});
    document.getElementById("check-id").value = data.id;
    document.getElementById("check-ticket").value = data.ticket;
    show("submit-result", "Request " + data.id + " filed, state " + data.state +
         ". Keep ticket " + data.ticket + " to check it later.", true);
  } catch (error) { show("submit-result", "Rejected: " + error.message, false); }
};
document.getElementById("check").onclick = async () => {
  try {
    const id = encodeURIComponent(document.getElementById("check-id").value.trim());
    const ticket = encodeURIComponent(document.getElementById("check-ticket").value.trim());
    const data = await call("GET", "/api/v1/requests/" + id + "?ticket=" + ticket);
    let text = "Request " + data.id + " for " + data.address + " is " + data.state;
    if (data.comment) text += ": " + data.comment;
    if (data.expires_at) text += " (until " + data.expires_at + ")";
    show("check-result", text, true);
  } catch (error) { show("check-result", "Failed: " + error.message, false); }
};
async function decide(id, action) {
  try {
    await call("POST", "/api/v1/requests/" + id + "/" + action,
               {comment: document.getElementById("comment").value},
               document.getElementById("token").value);
    await load();
    show("operator-result", "Request " + id + ": " + action + " done", true);
  } catch (error) { show("operator-result", "Failed: " + error.message, false); }
}
async function load() {
  const rows = document.getElementById("requests");
  try {
    const list = await call("GET", "/api/v1/requests", undefined,
                            document.getElementById("token").value);
    rows.replaceChildren();
    for (const item of list) {
      const row = document.createElement("tr");
      row.id = "request-" + item.id;
      for (const value of [item.id, item.address, item.domain, item.daily_volume,
                           item.reason, item.state]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.appendChild(cell);
      }
      const actions = document.createElement("td");
      const allowed = item.state === "pending" ? ["approve", "deny"]
                    : item.state === "approved" ? ["revoke"] : [];
      for (const action of allowed) {
        const button = document.createElement("button");
        button.textContent = action;
        button.id = action + "-" + item.id;
        button.onclick = () => decide(item.id, action);
        actions.appendChild(button);
      }
      row.appendChild(actions);
      rows.appendChild(row);
    }
    show("operator-result", list.length + " requests", true);
  } catch (error) { show("operator-result", "Failed: " + error.message, false); }
}
document.getElementById("load").onclick = load;
</script></body></html>
)html";
  return kPage;
}

}  // namespace mailport::egress
