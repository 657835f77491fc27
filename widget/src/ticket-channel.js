// The ticket channel: after the handoff the widget follows the ticket on the escalation
// service. Foundation version: it polls `GET /api/v1/conversations/<token>` (the
// Server-Sent-Events stream replaces the polling later; the events stay the same).
//
//   events: {onUpdate(conversation), onGone(), onStatus('online'|'reconnecting')}

const MAX_BACKOFF_MS = 30000;

export function createTicketChannel({ apiUrl, token, interval }, events) {
  const url = `${apiUrl}/api/v1/conversations/${encodeURIComponent(token)}`;
  let timer = null;
  let running = false;
  let inFlight = false;
  let failures = 0;

  function schedule(delay) {
    clearTimeout(timer);
    if (running) timer = setTimeout(poll, delay);
  }

  async function poll() {
    if (!running || inFlight) return;
    // A hidden tab does not poll; it catches up as soon as it is shown again.
    if (document.visibilityState === 'hidden') return;
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
      events.onStatus('online');
      if (running) events.onUpdate(conversation);
    } catch (error) {
      // Network error, server error or a body that is not JSON: try again, slower.
      failures += 1;
      events.onStatus('reconnecting');
    } finally {
      inFlight = false;
      schedule(Math.min(interval * 2 ** failures, MAX_BACKOFF_MS));
    }
  }

  function onVisibility() {
    if (document.visibilityState === 'visible') schedule(0);
  }

  function start() {
    if (running) return;
    running = true;
    document.addEventListener('visibilitychange', onVisibility);
    schedule(0);
  }

  function stop() {
    running = false;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
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
    schedule(0);
    return response.json();
  }

  return { start, stop, send };
}
