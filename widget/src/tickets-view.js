// "My tickets": inside the panel, in place of the chat. A list of this browser's tickets
// (number, subject, status, last update, from `POST /api/v1/conversations/lookup`), and one
// ticket's public thread, followed live, with a reply box. Text only via textContent.
//
//   createMyTickets({slot, t, language, api: {lookup, follow, reply}, list, portalUrl, onExit, onReplied})
//     -> {show(), reset()}
import { el } from './dom.js';
import { icon } from './icons.js';

const STATUS_WORDS = {
  new: 'statusNew',
  assigned: 'statusAssigned',
  acknowledged: 'statusInProgress',
  in_progress: 'statusInProgress',
  waiting_on_customer: 'statusWaiting',
  resolved: 'statusResolved',
  closed: 'statusClosed',
};
const SENDERS = { customer: 'user', user: 'user', agent: 'agent', system: 'system', bot: 'bot' };

function dateFormatter(language) {
  const options = { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  try {
    return new Intl.DateTimeFormat(language, options);
  } catch (error) {
    return new Intl.DateTimeFormat(undefined, options);
  }
}

function toDate(value) {
  const date = new Date(typeof value === 'number' && value < 1e12 ? value * 1000 : value);
  return value == null || Number.isNaN(date.getTime()) ? null : date;
}

export function createMyTickets({ slot, t, language, api, list, portalUrl, onExit, onReplied }) {
  const format = dateFormatter(language);
  let summaries = []; // the last lookup, newest update first
  let screen = null; // 'list' | 'thread' | null (hidden)
  let loads = 0; // bumped to ignore an answer that came too late
  let following = null; // the open thread's channel

  const text = (value) => (value == null ? '' : String(value));
  const statusWord = (status) => (STATUS_WORDS[status] ? t(STATUS_WORDS[status]) : text(status).replace(/_/g, ' '));

  function time(value, label) {
    const date = toDate(value);
    if (!date) return null;
    const formatted = format.format(date);
    return el('time', { datetime: date.toISOString(), text: label ? t(label, { when: formatted }) : formatted });
  }

  function pill(status) {
    return el('span', { class: 'cc-tk-status', 'data-testid': 'cc-tk-status', 'data-status': text(status), text: statusWord(status) });
  }

  /** A screen: a bar with the way back and the heading (focused when the screen opens). */
  function screenWith(backLabel, backText, onBack, title, body) {
    const back = el('button', {
      type: 'button', class: 'cc-tk-back', 'data-testid': 'cc-tk-back', 'aria-label': backLabel,
    }, [icon('back'), el('span', { text: backText })]);
    back.addEventListener('click', onBack);
    const heading = el('h3', { id: 'cc-tk-title', class: 'cc-tk-title', 'data-testid': 'cc-tk-title', tabindex: '-1', text: title });
    slot.replaceChildren(el('div', { class: 'cc-tk-bar' }, [back, heading]), ...body);
    return heading;
  }

  // ---- the list --------------------------------------------------------------------------

  const listBody = el('div', { class: 'cc-tk-body', 'data-testid': 'cc-tk-body' });

  function note(testId, words, extra = {}) {
    return el('p', { class: 'cc-tk-note', 'data-testid': testId, text: words, ...extra });
  }

  function showError(error, retry) {
    const words = error && error.status === 429 && error.apiMessage ? error.apiMessage : t('ticketsError');
    const again = el('button', { type: 'button', class: 'cc-tk-retry', 'data-testid': 'cc-tk-retry', text: t('retry') });
    again.addEventListener('click', () => {
      retry();
      const heading = slot.querySelector('.cc-tk-title');
      if (heading) heading.focus(); // the button is gone: keep the keyboard user here
    });
    return el('div', { class: 'cc-tk-error', 'data-testid': 'cc-tk-error', role: 'alert' }, [el('p', { text: words }), again]);
  }

  function itemFor(summary) {
    const subject = text(summary.subject) || t('noSubject');
    const updated = time(summary.updated_at, 'updated');
    const button = el('button', {
      type: 'button', class: 'cc-tk-item', 'data-testid': 'cc-tk-item', 'data-number': text(summary.number),
      'aria-label': [text(summary.number), subject, statusWord(summary.status), updated && updated.textContent]
        .filter(Boolean).join(', '),
    }, [
      el('span', { class: 'cc-tk-row' }, [el('span', { class: 'cc-tk-number', text: text(summary.number) }), pill(summary.status)]),
      el('span', { class: 'cc-tk-subject', 'data-testid': 'cc-tk-subject', text: subject }),
      updated && el('span', { class: 'cc-tk-updated' }, [updated]),
    ]);
    button.addEventListener('click', () => openThread(summary));
    return el('li', {}, [button]);
  }

  function drawList(focusToken) {
    const items = summaries.map(itemFor);
    const ul = el('ul', { class: 'cc-tk-list', 'data-testid': 'cc-tk-list', 'aria-labelledby': 'cc-tk-title' }, items);
    // Arrow keys move along the list, Home and End to its ends; Tab leaves it.
    ul.addEventListener('keydown', (event) => {
      const buttons = [...ul.querySelectorAll('.cc-tk-item')];
      const at = buttons.indexOf(event.target);
      const next = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
      if (at < 0 || next == null) return;
      event.preventDefault();
      buttons[Math.min(Math.max(next, 0), buttons.length - 1)].focus();
    });
    listBody.replaceChildren(summaries.length ? ul : note('cc-tk-empty', t('ticketsEmpty')));
    const index = summaries.findIndex((s) => s.token === focusToken);
    if (index >= 0) items[index].firstChild.focus();
  }

  async function load() {
    const asked = list.all().map((entry) => entry.token);
    if (!asked.length) {
      summaries = [];
      drawList();
      return;
    }
    const mine = ++loads;
    listBody.setAttribute('aria-busy', 'true');
    if (!listBody.querySelector('.cc-tk-list')) listBody.replaceChildren(note('cc-tk-loading', t('ticketsLoading'), { role: 'status' }));
    let found;
    try {
      found = await api.lookup(asked);
    } catch (error) {
      if (mine !== loads) return;
      listBody.removeAttribute('aria-busy');
      listBody.replaceChildren(showError(error, load));
      return;
    }
    if (mine !== loads) return;
    listBody.removeAttribute('aria-busy');
    list.sync(found, asked);
    const last = (s) => (toDate(s.updated_at) || toDate(s.created_at) || new Date(0)).getTime();
    summaries = found.slice().sort((a, b) => last(b) - last(a));
    // A redraw keeps the focus on the ticket it was on.
    const focused = slot.getRootNode().activeElement;
    const onItem = focused && focused.closest && focused.closest('.cc-tk-item');
    const token = onItem ? (summaries.find((s) => s.number === onItem.dataset.number) || {}).token : null;
    drawList(token);
  }

  function showList(focusToken) {
    stopThread();
    screen = 'list';
    // every ticket of the customer's e-mail address (any browser) lives in the portal
    const portal = portalUrl ? el('p', { class: 'cc-tk-portal' }, [el('a', {
      href: portalUrl, target: '_blank', rel: 'noopener', 'data-testid': 'cc-tk-portal', text: t('allTickets'),
    })]) : null;
    const heading = screenWith(t('backToChat'), t('chat'), onExit,
      t('myTickets'), portal ? [listBody, portal] : [listBody]);
    if (summaries.length) drawList(focusToken);
    if (!focusToken) heading.focus();
    load();
  }

  // ---- one ticket's thread ---------------------------------------------------------------

  function messageFor(message) {
    const sender = SENDERS[message.author] || 'agent';
    const who = { user: t('you'), bot: t('assistant'), agent: text(message.author_name) || t('agent'), system: '' }[sender];
    const item = el('div', { class: `cc-msg cc-msg--${sender}`, 'data-testid': 'cc-tk-msg', 'data-sender': sender });
    if (who) item.append(el('span', { class: 'cc-author', text: who }));
    item.append(el('div', { class: 'cc-bubble', text: text(message.body) }));
    const when = time(message.created_at);
    if (when) item.append(Object.assign(when, { className: 'cc-time' }));
    return item;
  }

  function openThread(summary) {
    stopThread();
    screen = 'thread';
    const token = summary.token;
    let shown = null; // ids of the messages on screen
    const status = pill(summary.status);
    const log = el('div', {
      class: 'cc-log cc-tk-thread', 'data-testid': 'cc-tk-thread', role: 'log', 'aria-live': 'polite',
      'aria-label': t('threadLabel', { ticket: text(summary.number) }), tabindex: '0',
    }, [note('cc-tk-loading', t('ticketsLoading'), { role: 'status' })]);
    const problem = el('div', { class: 'cc-tk-problem' });
    const input = el('textarea', {
      id: 'cc-tk-input', class: 'cc-input', 'data-testid': 'cc-tk-input', rows: '1', maxlength: '2000',
      placeholder: t('replyPlaceholder'),
    });
    const error = el('p', { class: 'cc-tk-send-error', 'data-testid': 'cc-tk-send-error', role: 'alert' });
    const form = el('form', { class: 'cc-composer cc-tk-reply', 'data-testid': 'cc-tk-reply' }, [
      el('label', { class: 'cc-visually-hidden', for: 'cc-tk-input', text: t('replyLabel') }),
      input,
      el('button', { type: 'submit', class: 'cc-send', 'data-testid': 'cc-tk-send', 'aria-label': t('sendReply') }, [icon('send')]),
    ]);
    const closedNote = note('cc-tk-closed', t('ticketClosedNote'), { hidden: true });
    const heading = screenWith(t('backToTickets'), t('myTickets'), () => showList(token), text(summary.number), [
      el('div', { class: 'cc-tk-head' }, [
        el('p', { class: 'cc-tk-subject', 'data-testid': 'cc-tk-thread-subject', text: text(summary.subject) || t('noSubject') }),
        status,
      ]),
      log, problem, error, closedNote, form,
    ]);
    heading.focus();

    function setStatus(value) {
      status.dataset.status = text(value);
      status.textContent = statusWord(value);
      const closed = value === 'closed';
      form.hidden = closed;
      closedNote.hidden = !closed;
    }
    setStatus(summary.status);

    function update(conversation) {
      if (screen !== 'thread' || !conversation || typeof conversation !== 'object') return;
      problem.replaceChildren();
      if (conversation.status) {
        summary.status = conversation.status;
        setStatus(conversation.status);
      }
      const messages = (Array.isArray(conversation.messages) ? conversation.messages : [])
        .filter((m) => m && typeof m === 'object' && m.body);
      const ids = messages.map((m) => text(m.id)).join(',');
      if (ids === shown) return;
      shown = ids;
      log.replaceChildren(...(messages.length ? messages.map(messageFor) : [note('cc-tk-no-messages', t('threadEmpty'))]));
      log.scrollTop = log.scrollHeight;
    }

    following = api.follow(token, {
      onUpdate: update,
      onGone: () => {
        following = null;
        form.hidden = true;
        problem.replaceChildren(note('cc-tk-gone', t('threadGone'), { role: 'alert' }));
      },
      onStatus: (state) => {
        // Before the first answer: say the service cannot be reached (it keeps trying).
        if (state === 'reconnecting' && shown == null && !problem.firstChild) {
          log.replaceChildren();
          problem.replaceChildren(showError(null, () => following && following.refresh()));
        }
      },
    });

    let pending = false;
    async function submit() {
      const body = input.value.trim();
      if (!body || pending) return;
      pending = true;
      form.setAttribute('aria-busy', 'true');
      error.textContent = '';
      let outcome;
      try {
        outcome = await api.reply(token, body);
      } catch (failure) {
        outcome = { ok: false };
      }
      pending = false;
      form.removeAttribute('aria-busy');
      if (!outcome.ok) {
        error.textContent = outcome.message || t('sendFailed');
        return;
      }
      input.value = '';
      if (following) following.refresh();
      onReplied(token, body);
    }
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit();
    });
  }

  function stopThread() {
    if (following) following.stop();
    following = null;
  }

  return {
    show: () => showList(),
    reset() {
      stopThread();
      loads += 1;
      screen = null;
      slot.replaceChildren();
    },
  };
}
