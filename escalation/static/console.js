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
