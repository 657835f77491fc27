// The ticket channel: after the handoff the widget follows the ticket on the escalation
// service. The conversation itself always comes from `GET /api/v1/conversations/<token>`
// (a durable snapshot: messages with ids, status, owner, agent). What says *when* to fetch
// it is the Server-Sent-Events stream `…/<token>/events` (resumable with Last-Event-ID):
// every event triggers a fetch, and so does every (re)connect, so nothing is missed and a
// replayed event can never undo the current state. Where the stream cannot be had (no
// EventSource, a server without it, CORS) the channel polls every `interval` ms instead.
//
//   events: {onUpdate(conversation), onGone(), onStatus('online'|'reconnecting'),
//            onEventId(id)}

const MAX_BACKOFF_MS = 30000;
const EVENT_KINDS = ['message', 'status', 'agent_joined', 'assigned'];

function conversationUrl(apiUrl, token) {
  return `${apiUrl}/api/v1/conversations/${encodeURIComponent(token)}`;
}

/** POST `body` as JSON; resolves to {ok, status, data, message}: `message` is the API's
 * `message` (success) or its error message, or null. Rejects only on a network error. */
async function postJSON(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    credentials: 'omit',
    body: JSON.stringify(body),
  });
  let data = null;
  let message = null;
  try {
    data = await response.json();
    message = response.ok ? data.message : data.error && data.error.message;
  } catch (error) {
    // Not JSON (a proxy's error page): no message from the server.
  }
  return {
    ok: response.ok, status: response.status, data,
    message: typeof message === 'string' && message ? message : null,
  };
}

/**
 * Rate a resolved ticket: `POST …/<token>/survey {rating, comment}`. Resolves to
 * {ok, status, message}: `message` is the API's thanks, or its error message (409: already
 * rated or not resolved, 422: a bad rating), or null. Rejects only on a network error.
 */
export async function postSurvey(apiUrl, token, { rating, comment }) {
  const { ok, status, message } = await postJSON(`${conversationUrl(apiUrl, token)}/survey`, { rating, comment });
  return { ok, status, message };
}

/** Write in a ticket's thread: `POST …/<token>/messages {body}` -> {ok, status, message}. */
export async function postMessage(apiUrl, token, body) {
  const { ok, status, message } = await postJSON(`${conversationUrl(apiUrl, token)}/messages`, { body });
  return { ok, status, message };
}

/** The tickets `tokens` unlock: `POST /api/v1/conversations/lookup {tokens}` -> the list
 * [{token, number, subject, status, owner, agent, created_at, updated_at}]. Rejects on a
 * network error or an error status (with `.status` and the API's `.apiMessage`). */
export async function lookupTickets(apiUrl, tokens) {
  const outcome = await postJSON(`${apiUrl}/api/v1/conversations/lookup`, { tokens });
  if (!outcome.ok || !outcome.data || !Array.isArray(outcome.data.tickets)) {
    throw Object.assign(new Error(`HTTP ${outcome.status}`), { status: outcome.status, apiMessage: outcome.message });
  }
  return outcome.data.tickets.filter((t) => t && typeof t === 'object' && typeof t.token === 'string');
}

export function createTicketChannel({ apiUrl, token, interval, lastEventId }, events) {
  const url = conversationUrl(apiUrl, token);
  let running = false;
  let source = null;
  let polling = false;
  let timer = null;
  let inFlight = false;
  let fetchAgain = false;
  let failures = 0;

  /** Fetch the conversation and hand it on; true when the channel should go on. */
  async function refresh() {
    if (!running) return;
    if (inFlight) {
      fetchAgain = true;
      return;
    }
    inFlight = true;
    try {
      const response = await fetch(url, {
        headers: { Accept: 'application/json' },
        credentials: 'omit',
        cache: 'no-store',
      });
      if (response.status === 404) {
        stop();
        events.onGone();
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const conversation = await response.json();
      failures = 0;
      if (polling || (source && source.readyState === EventSource.OPEN)) events.onStatus('online');
      if (running) events.onUpdate(conversation);
    } catch (error) {
      // Network error, server error or a body that is not JSON: try again, slower.
      failures += 1;
      events.onStatus('reconnecting');
    } finally {
      inFlight = false;
      if (fetchAgain && running) {
        fetchAgain = false;
        refresh();
      } else if (running && (polling || failures)) {
        // Polling: the next poll. Streaming: a failed fetch is retried, the stream is not
        // going to say anything new about it.
        clearTimeout(timer);
        timer = setTimeout(polling ? poll : refresh, Math.min(interval * 2 ** failures, MAX_BACKOFF_MS));
      }
    }
  }

  function schedule(delay) {
    clearTimeout(timer);
    if (running && polling) timer = setTimeout(poll, delay);
  }

  function poll() {
    // A hidden tab does not poll; it catches up as soon as it is shown again.
    if (document.visibilityState !== 'hidden') refresh();
  }

  function onVisibility() {
    if (document.visibilityState === 'visible') schedule(0);
  }

  function startPolling() {
    polling = true;
    document.addEventListener('visibilitychange', onVisibility);
    schedule(0);
  }

  function startStream() {
    const after = lastEventId ? `?after=${encodeURIComponent(lastEventId)}` : '';
    source = new EventSource(`${url}/events${after}`);
    source.addEventListener('open', () => {
      events.onStatus('online');
      refresh();
    });
    const onEvent = (event) => {
      if (event.lastEventId) events.onEventId(event.lastEventId);
      refresh();
    };
    for (const kind of EVENT_KINDS) source.addEventListener(kind, onEvent);
    source.addEventListener('error', () => {
      if (!running) return;
      if (source.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, sending Last-Event-ID.
        events.onStatus('reconnecting');
        return;
      }
      // Closed for good: an error status, or not an event stream at all. Poll instead;
      // polling also notices a ticket that is gone.
      source.close();
      source = null;
      startPolling();
    });
  }

  function start() {
    if (running) return;
    running = true;
    if (typeof EventSource === 'function') startStream();
    else startPolling();
  }

  function stop() {
    running = false;
    polling = false;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
    if (source) source.close();
    source = null;
  }

  /** Post a customer message to the ticket thread; resolves to the stored message. */
  async function send(body) {
    const response = await fetch(`${url}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      credentials: 'omit',
      body: JSON.stringify({ body }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    refresh();
    return response.json();
  }

  return { start, stop, send, refresh };
}
