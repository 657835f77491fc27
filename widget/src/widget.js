// The widget itself: keeps the history, turns bot and ticket events into messages, and
// follows the handoff. The DOM lives in view.js, the wire in transport.js.
import { cleanUser } from './options.js';
import { createHistory, createStore, createTicketList } from './store.js';
import { translator } from './strings.js';
import { createTransport } from './transport.js';
import { createMyTickets } from './tickets-view.js';
import { createView } from './view.js';

const TYPING_TIMEOUT_MS = 15000;
const SEEN_LIMIT = 500;

let counter = 0;
function newId() {
  counter += 1;
  return `${Date.now().toString(36)}-${counter.toString(36)}`;
}

/** created_at as epoch seconds, epoch milliseconds or an ISO string -> milliseconds. */
function toMillis(value) {
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? Date.now() : parsed;
}

/** How a ticket-thread message is shown; null for the customer's and the bot's own,
 * which the widget already shows from the chat itself. */
function senderFor(author) {
  if (author === 'customer' || author === 'user' || author === 'bot') return null;
  return author === 'system' ? 'system' : 'agent';
}

function isDone(conversation) {
  return ['resolved', 'closed'].includes(conversation.status);
}

function isBackWithBot(conversation) {
  return conversation.owner === 'bot' || isDone(conversation);
}

function cleanReplies(quickReplies) {
  if (!Array.isArray(quickReplies)) return null;
  const replies = quickReplies
    .filter((r) => r && typeof r === 'object' && r.title != null)
    .map((r) => ({ title: String(r.title), payload: String(r.payload ?? r.title) }));
  return replies.length ? replies : null;
}

function cleanArticles(articles) {
  if (!Array.isArray(articles)) return null;
  const clean = articles
    .filter((a) => a && typeof a === 'object' && (a.title || a.url))
    .map((a) => ({
      article_id: a.article_id == null ? null : String(a.article_id),
      title: String(a.title ?? ''),
      url: a.url == null ? null : String(a.url),
      snippet: a.snippet == null ? '' : String(a.snippet),
    }));
  return clean.length ? clean : null;
}

function loadHandoff(store) {
  const saved = store.getJSON('handoff', null);
  if (!saved || typeof saved.token !== 'string' || !saved.token) return null;
  return { owner: 'queued', agent: null, seen: [], ...saved };
}

export function createWidget(options) {
  const t = translator(options.language);
  const store = createStore();
  const history = createHistory(store);
  const ticketList = createTicketList(store);
  const status = { bot: 'connecting', ticket: 'connecting' };
  let handoff = loadHandoff(store);
  // A handoff from before "My tickets" existed is one of this browser's tickets too.
  if (handoff && !ticketList.all().some((e) => e.token === handoff.token)) ticketList.add(handoff);
  let unread = 0;
  let typingTimer = null;

  const view = createView({
    options,
    t,
    handlers: {
      onToggle: () => (view.isOpen() ? close() : open()),
      onClose: () => close(),
      onSubmit: (text) => send(text, text),
      onReply: (reply) => {
        send(reply.payload, reply.title);
        // The buttons are gone now: keep the keyboard user in the conversation.
        view.focusInput();
      },
      onRate: (id, answer) => rate(id, answer),
      onTickets: () => (view.showingTickets() ? leaveTickets() : showTickets()),
    },
  });
  const transport = createTransport(options, store, {
    onBotMessage,
    onTicketUpdate,
    onTicketGone: () => endHandoff('ticketGone'),
    onTicketEventId: (id) => {
      if (!handoff) return;
      handoff.eventId = id;
      store.setJSON('handoff', handoff);
    },
    onStatus: (channel, state) => {
      status[channel] = state;
      showStatus();
    },
    onSendFailed: () => record({ sender: 'system', text: t('sendFailed') }),
  });
  const myTickets = createMyTickets({
    slot: view.ticketsSlot,
    t,
    language: options.language,
    api: transport,
    list: ticketList,
    portalUrl: options.portalUrl,
    onExit: () => leaveTickets(),
    onReplied: (token, text) => {
      // Written from My tickets in the ticket the chat follows: the chat shows it too.
      if (handoff && handoff.token === token) record({ sender: 'user', text });
    },
  });

  function showTickets() {
    view.setTickets(true);
    myTickets.show();
  }

  function leaveTickets({ focus = true } = {}) {
    if (!view.showingTickets()) return;
    myTickets.reset();
    view.setTickets(false);
    if (focus) view.focusTicketsButton();
  }

  function showStatus() {
    view.setStatus(handoff ? status.ticket : status.bot);
  }

  function showTicket() {
    if (!handoff) view.setTicket(null);
    else if (handoff.owner === 'agent' && handoff.agent) view.setTicket(t('ticketWithAgent', handoff));
    else view.setTicket(t('ticketQueued', handoff));
  }

  function record(fields) {
    const entry = history.add({ id: newId(), ts: Date.now(), ...fields });
    view.append(entry);
    if (!view.isOpen() && entry.sender !== 'user') {
      unread += 1;
      view.setUnread(unread);
    }
    return entry;
  }

  function typing(on) {
    clearTimeout(typingTimer);
    view.setTyping(on);
    if (on) typingTimer = setTimeout(() => view.setTyping(false), TYPING_TIMEOUT_MS);
  }

  function send(payload, shownAs) {
    if (history.retireReplies()) view.removeReplies();
    record({ sender: 'user', text: shownAs });
    const route = transport.send(payload);
    if (route === 'bot' && !handoff) typing(true);
  }

  function onBotMessage(message) {
    typing(false);
    const replies = cleanReplies(message.quick_replies);
    if ((typeof message.text === 'string' && message.text) || replies) {
      record({ sender: 'bot', text: typeof message.text === 'string' ? message.text : '', replies });
    }
    const articles = cleanArticles(message.articles);
    if (articles) record({ sender: 'bot', articles });
    const ticket = message.handoff;
    if (ticket && typeof ticket === 'object' && typeof ticket.token === 'string' && ticket.token) {
      beginHandoff(ticket);
    }
  }

  function beginHandoff({ ticket, token }) {
    if (handoff && handoff.token === token) return;
    handoff = { ticket: String(ticket ?? ''), token, owner: 'queued', agent: null, seen: [] };
    store.setJSON('handoff', handoff);
    ticketList.add(handoff);
    showTicket();
    showStatus();
    transport.startHandoff(handoff);
  }

  function onTicketUpdate(conversation) {
    if (!handoff || !conversation || typeof conversation !== 'object') return;
    if (conversation.number && String(conversation.number) !== handoff.ticket) {
      handoff.ticket = String(conversation.number);
      ticketList.add(handoff);
    }
    if (conversation.owner === 'agent' && handoff.owner !== 'agent') {
      record({ sender: 'system', text: t('agentJoined', { agent: conversation.agent || t('agent') }) });
    }
    const seen = new Set(handoff.seen);
    for (const message of Array.isArray(conversation.messages) ? conversation.messages : []) {
      if (!message || message.id == null || seen.has(String(message.id))) continue;
      seen.add(String(message.id));
      const sender = senderFor(message.author);
      if (sender && message.body) {
        record({
          sender,
          text: String(message.body),
          author: message.author_name == null ? null : String(message.author_name),
          ts: toMillis(message.created_at),
        });
      }
    }
    handoff.seen = [...seen].slice(-SEEN_LIMIT);
    handoff.owner = conversation.owner ?? handoff.owner;
    handoff.agent = conversation.agent ?? null;
    handoff.status = conversation.status ?? null;
    if (isBackWithBot(conversation)) {
      // Only a resolved (or closed) ticket "was resolved"; one handed back to the bot is
      // still open, and stays in My tickets.
      const done = isDone(conversation);
      endHandoff(done ? 'ticketResolved' : 'ticketHandedBack', { survey: done });
      return;
    }
    store.setJSON('handoff', handoff);
    showTicket();
  }

  function endHandoff(reason, { survey = false } = {}) {
    if (!handoff) return;
    transport.stopHandoff();
    record({ sender: 'system', text: t(reason, handoff) });
    // The CSAT prompt: part of the history, so a reload shows it again until answered.
    if (survey) record({ sender: 'system', survey: { ticket: handoff.ticket, token: handoff.token } });
    handoff = null;
    store.remove('handoff');
    showTicket();
    showStatus();
  }

  /** Send the CSAT answer of the survey record `id`. Resolves to {error} when the customer
   * can try again (the prompt stays), or {} once it is answered: the prompt then turns into
   * the thanks, or the API's reason why not (already rated, not resolved any more, gone). */
  async function rate(id, { rating, comment }) {
    const entry = history.find(id);
    if (!entry || !entry.survey || !entry.survey.token) return {};
    let outcome;
    try {
      outcome = await transport.rate(entry.survey.token, { rating, comment });
    } catch (error) {
      return { error: t('surveyFailed') };
    }
    if (outcome.status === 422) return { error: outcome.message || t('surveyFailed') };
    if (!outcome.ok && ![404, 409].includes(outcome.status)) return { error: t('surveyFailed') };
    // Answered for good: the token is not kept any longer than needed.
    const text = outcome.ok ? t('surveyThanks') : outcome.message || t('surveyFailed');
    const updated = history.update(id, { survey: null, text });
    if (updated) view.replace(updated);
    return {};
  }

  function open({ focus = true } = {}) {
    if (view.isOpen()) return;
    view.setOpen(true);
    unread = 0;
    view.setUnread(0);
    transport.connect();
    showStatus();
    if (focus) view.focusInput();
  }

  function close() {
    if (!view.isOpen()) return;
    const hadFocus = view.hasFocus();
    leaveTickets({ focus: false }); // it opens on the chat again
    view.setOpen(false);
    // Focus never gets lost in a hidden panel: it goes back to the launcher.
    if (hadFocus) view.focusLauncher();
  }

  function setUser(user) {
    options.user = user == null ? null : cleanUser({ ...options.user, ...user });
  }

  view.render(history.all());
  showTicket();
  showStatus();
  if (handoff) transport.startHandoff(handoff);
  // Opening on page load must not pull the focus away from the host page.
  if (options.open) open({ focus: false });

  return { open: () => open(), close, setUser };
}
