// Live updates for the agent console: new messages of the open ticket appear without a reload.
// Server-Sent Events from /agent/tickets/<number>/events, starting after the rendered state;
// text is inserted with textContent, never as HTML.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-events]");
  if (!root || !window.EventSource) return;
  var url = root.getAttribute("data-live-events") + "?after=" + encodeURIComponent(root.getAttribute("data-last-event") || "0");
  var source = new EventSource(url);
  var status = document.querySelector("[data-testid=live-status]");

  function threadList() {
    var list = document.querySelector("[data-testid=thread]");
    if (list) return list;
    var empty = document.querySelector("[data-testid=thread-empty]");
    list = document.createElement("ol");
    list.className = "thread";
    list.setAttribute("data-testid", "thread");
    list.setAttribute("aria-live", "polite");
    if (empty) empty.replaceWith(list); else root.appendChild(list);
    return list;
  }

  source.addEventListener("message", function (event) {
    var m = JSON.parse(event.data);
    var item = document.createElement("li");
    item.className = "msg msg-" + m.author + (m.internal ? " internal" : "");
    var author = document.createElement("span");
    author.className = "author";
    author.textContent = m.author_name + (m.internal ? " · internal note" : "");
    var body = document.createElement("span");
    body.className = "body";
    body.textContent = m.body;
    item.appendChild(author);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(body);
    if (m.created_at) {  // as the server renders it: "2026-11-23 14:05 UTC"
      var time = document.createElement("time");
      time.className = "meta";
      time.setAttribute("datetime", m.created_at);
      time.textContent = new Date(m.created_at).toISOString().slice(0, 16).replace("T", " ") + " UTC";
      item.appendChild(document.createTextNode(" "));
      item.appendChild(time);
    }
    threadList().appendChild(item);
  });
  source.addEventListener("status", function (event) {
    var s = JSON.parse(event.data);
    var badge = document.querySelector("[data-testid=status]");
    if (badge && s.status) badge.textContent = s.status.replace(/_/g, " ");
  });
  source.onopen = function () { if (status) status.textContent = "Live"; };
  source.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
})();

// Canned responses: without JavaScript "Insert" reloads the page with ?canned=<id> and the server
// pre-fills the reply box. Here the text (already filled in for this ticket, in data-text) goes
// straight into the reply box at the cursor, and the focus moves there to edit or send.
(function () {
  "use strict";
  var picker = document.querySelector("[data-canned-target]");
  if (!picker) return;
  var box = document.getElementById(picker.getAttribute("data-canned-target"));
  var select = picker.querySelector("select");
  var status = picker.querySelector("[role=status]");
  if (!box || !select) return;
  picker.addEventListener("submit", function (event) {
    var option = select.options[select.selectedIndex];
    if (!option) return;
    event.preventDefault();
    var text = option.getAttribute("data-text") || "";
    var start = typeof box.selectionStart === "number" ? box.selectionStart : box.value.length;
    var end = typeof box.selectionEnd === "number" ? box.selectionEnd : box.value.length;
    var before = box.value.slice(0, start), after = box.value.slice(end);
    var gap = before && !/\n$/.test(before) ? "\n\n" : "";
    box.value = before + gap + text + after;
    var caret = (before + gap + text).length;
    box.focus();
    if (box.setSelectionRange) box.setSelectionRange(caret, caret);
    if (box.rows < 8) box.rows = 8;
    if (status) status.textContent = "Inserted “" + option.textContent + "”; edit it before sending if needed.";
  });
})();
