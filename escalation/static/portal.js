// The customer portal: live updates of a ticket page, and help articles suggested while a new
// ticket is typed. Text goes in with textContent only, never as HTML.
(function () {
  "use strict";

  function text(tag, className, value) {
    var el = document.createElement(tag);
    el.className = className;
    el.textContent = value;
    return el;
  }

  // ---- a ticket page: the same event stream the widget reads (public events only) ----------
  var root = document.querySelector("[data-live-events]");
  var card = document.querySelector("[data-state-url]");
  if (root && card && window.EventSource) {
    var status = document.querySelector("[data-testid=live-status]");
    var source = new EventSource(root.getAttribute("data-live-events") + "?after=" +
                                 encodeURIComponent(root.getAttribute("data-last-event") || "0"));

    var threadList = function () {
      var list = root.querySelector("[data-testid=thread]");
      if (list) return list;
      list = document.createElement("ol");
      list.className = "thread";
      list.setAttribute("data-testid", "thread");
      list.setAttribute("aria-live", "polite");
      var empty = root.querySelector("[data-testid=thread-empty]");
      if (empty) empty.replaceWith(list); else root.insertBefore(list, root.querySelector("form"));
      return list;
    };

    var refreshState = function () {  // status, agent, first reply: asked for, never guessed
      fetch(card.getAttribute("data-state-url"), {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          var badge = card.querySelector("[data-testid=status]");
          badge.textContent = s.status_label;
          badge.className = "badge status-" + s.status;
          card.querySelector("[data-testid=portal-agent]").textContent = s.agent || "not assigned yet";
          var first = s.first_reply;
          card.querySelector("[data-testid=portal-first-reply]").textContent =
            first.kind === "none" ? "—" : (first.kind === "answered" ? "answered " : "expected by ") +
            first.at.slice(0, 16).replace("T", " ") + " UTC";
          card.querySelector("[data-testid=solved-form]").hidden = !s.can_resolve;
          card.querySelector("[data-testid=reopen-form]").hidden = !s.can_reopen;
        });
    };

    source.addEventListener("message", function (event) {
      var m = JSON.parse(event.data);
      if (document.querySelector("[data-message-id='" + Number(m.id) + "']")) return;
      var item = document.createElement("li");
      item.className = "msg msg-" + m.author;
      item.setAttribute("data-message-id", String(Number(m.id)));
      item.appendChild(text("span", "author", m.author === "customer" ? "You" : m.author_name));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(text("span", "body", m.body));
      if (m.attachments && m.attachments.length) {
        var files = document.createElement("ul");
        files.className = "attachments";
        files.setAttribute("data-testid", "attachments");
        var base = root.getAttribute("data-attachment-url").replace(/0$/, "");
        m.attachments.forEach(function (a) {
          var li = document.createElement("li");
          var link = document.createElement("a");
          link.href = base + encodeURIComponent(String(Number(a.id)));
          link.setAttribute("download", "");
          link.setAttribute("data-testid", "attachment-link");
          link.textContent = a.name;
          li.appendChild(link);
          files.appendChild(li);
        });
        item.appendChild(files);
      }
      threadList().appendChild(item);
      refreshState();
    });
    ["status", "assigned", "agent_joined"].forEach(function (kind) {
      source.addEventListener(kind, refreshState);
    });
    source.onopen = function () { if (status) status.textContent = "Live"; };
    source.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
  }

  // ---- a new ticket: suggest help articles while the customer types (debounced) ------------
  var subject = document.querySelector("[data-kb-suggest]");
  var box = document.querySelector("[data-testid=kb-suggestions]");
  if (subject && box && window.fetch) {
    var description = document.querySelector("[data-testid=new-ticket-description]");
    var list = box.querySelector("[data-testid=kb-suggestion-list]");
    var served = box.querySelector("[data-testid=self-served-form]");
    var timer = null, asked = "";

    var show = function (question, hits) {
      while (list.firstChild) list.removeChild(list.firstChild);
      hits.slice(0, 3).forEach(function (hit) {
        var item = document.createElement("li");
        item.setAttribute("data-testid", "kb-suggestion");
        var link = document.createElement("a");
        link.href = hit.url;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = hit.title;
        item.appendChild(link);
        if (hit.snippet) item.appendChild(text("p", "meta", hit.snippet));
        var yes = document.createElement("button");
        yes.type = "button";
        yes.textContent = "This answered my question";
        yes.setAttribute("data-testid", "kb-answered");
        yes.addEventListener("click", function () {
          served.querySelector("[name=article_id]").value = hit.article_id;
          served.querySelector("[name=question]").value = question.slice(0, 2000);
          served.submit();
        });
        item.appendChild(yes);
        list.appendChild(item);
      });
      box.hidden = hits.length === 0;
    };

    var ask = function () {
      var question = (subject.value + " " + (description ? description.value : "")).trim().slice(0, 1000);
      if (question.length < 4 || question === asked) return;
      asked = question;
      fetch(subject.getAttribute("data-kb-suggest") + "?k=3&q=" + encodeURIComponent(question),
            {headers: {Accept: "application/json"}})
        .then(function (r) { return r.ok ? r.json() : {hits: []}; })
        .then(function (result) { if (question === asked) show(question, result.hits || []); })
        .catch(function () { /* suggestions are a help, never a blocker */ });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(ask, 400); };
    subject.addEventListener("input", later);
    if (description) description.addEventListener("input", later);
  }
})();
