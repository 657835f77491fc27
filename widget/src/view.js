// The widget's DOM: one <carechat-widget> element at the end of <body> whose shadow root
// holds the stylesheet and everything else, so host page styles neither leak in nor out.
// Server text only ever reaches the page through textContent; links only as http(s).
import css from './carechat.css';
import { el } from './dom.js';
import { icon } from './icons.js';

/**
 * An absolute http(s) URL for `url`, or null. Relative URLs resolve against `base`: the
 * escalation service, which serves the KB's help pages (`/help/<article_id>`).
 */
export function safeHref(url, base) {
  if (typeof url !== 'string' || !url.trim()) return null;
  let parsed;
  try {
    parsed = new URL(url, new URL(base || '.', document.baseURI));
  } catch (error) {
    return null;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
}

const STEP = /^(\d{1,3})[.)]\s+(.+)$/;
// An absolute http(s) URL in bot text ("Full article: https://…/help/…"); it stops at
// whitespace, quotes and angle brackets, and sentence punctuation at its end stays text.
const URL_IN_TEXT = /https?:\/\/[^\s<>"'`]+/g;
const TRAILING = /[.,;:!?)\]]+$/;

/**
 * `text` as nodes: plain text nodes, and each http(s) URL as a link that opens in a new
 * tab. The link's text and href go in through textContent / setAttribute only.
 */
export function linkedText(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    const raw = match[0];
    const url = raw.replace(TRAILING, '');
    const href = safeHref(url);
    if (!href || !url) continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(el('a', { class: 'cc-link', href, target: '_blank', rel: 'noopener noreferrer', text: url }));
    last = match.index + url.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/**
 * A bot message's bubble. Lines that start "1. ", "2. " … (the steps of a KB answer)
 * become a numbered list; other lines stay text, with their http(s) URLs as links.
 * Still textContent only.
 */
export function botBubble(text) {
  const lines = text.split('\n');
  if (!lines.some((line) => STEP.test(line))) return el('div', { class: 'cc-bubble' }, linkedText(text));
  const bubble = el('div', { class: 'cc-bubble' });
  let list = null;
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) bubble.append(el('p', { class: 'cc-para' }, linkedText(paragraph.join('\n'))));
    paragraph = [];
  };
  for (const line of lines) {
    const step = STEP.exec(line);
    if (!step) {
      list = null;
      paragraph.push(line);
      continue;
    }
    flush();
    if (!list) {
      list = el('ol', { class: 'cc-steps', 'data-testid': 'cc-steps', start: step[1] === '1' ? null : step[1] });
      bubble.append(list);
    }
    list.append(el('li', {}, linkedText(step[2])));
  }
  flush();
  return bubble;
}

function timeFormatter(language) {
  const options = { hour: '2-digit', minute: '2-digit' };
  try {
    return new Intl.DateTimeFormat(language, options);
  } catch (error) {
    return new Intl.DateTimeFormat(undefined, options);
  }
}

function relativeLuminance(rgb) {
  const [r, g, b] = rgb.map((c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Text colour on the primary colour, and a primary that is readable on white. */
function paletteFor(color, probe) {
  probe.style.color = color;
  const match = getComputedStyle(probe).color.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)/);
  if (!match) return { onPrimary: '#ffffff', accent: color };
  const contrastWithWhite = 1.05 / (relativeLuminance(match.slice(1, 4).map(Number)) + 0.05);
  return contrastWithWhite >= 4.5
    ? { onPrimary: '#ffffff', accent: color }
    : { onPrimary: '#111827', accent: '#1d2330' };
}

export function createView({ options, t, handlers }) {
  const host = document.createElement('carechat-widget');
  const shadow = host.attachShadow({ mode: 'open' });
  if (shadow.adoptedStyleSheets && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    // A constructed sheet also works under a Content-Security-Policy without 'unsafe-inline'.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el('style', { text: css }));
  }
  const formatTime = timeFormatter(options.language);
  const labels = { user: t('you'), bot: t('assistant'), agent: t('agent'), system: '' };

  const badge = el('span', { class: 'cc-badge', 'data-testid': 'cc-badge', 'aria-hidden': 'true', hidden: true });
  const launcher = el('button', {
    type: 'button', class: 'cc-launcher', 'data-testid': 'cc-launcher',
    'aria-label': t('openChat'), 'aria-expanded': 'false', 'aria-controls': 'cc-panel',
  }, [icon('chat'), icon('close'), badge]);

  const status = el('p', { class: 'cc-status', 'data-testid': 'cc-status', 'data-state': 'offline' });
  const closeButton = el('button', {
    type: 'button', class: 'cc-close', 'data-testid': 'cc-close', 'aria-label': t('closeChat'),
  }, [icon('close')]);
  const ticketsButton = el('button', {
    type: 'button', class: 'cc-tickets-button', 'data-testid': 'cc-tickets-button',
    'aria-expanded': 'false', 'aria-controls': 'cc-tickets',
  }, [icon('tickets'), el('span', { text: t('myTickets') })]);
  const header = el('div', { class: 'cc-header' }, [
    el('div', { class: 'cc-heading' }, [el('h2', { class: 'cc-title', text: options.title }), status]),
    ticketsButton,
    closeButton,
  ]);
  const ticket = el('p', { class: 'cc-ticket', 'data-testid': 'cc-ticket', role: 'status', hidden: true });
  const log = el('div', {
    class: 'cc-log', 'data-testid': 'cc-log', role: 'log', 'aria-live': 'polite',
    'aria-label': options.title, tabindex: '0',
  });
  const typing = el('div', { class: 'cc-typing', 'data-testid': 'cc-typing', hidden: true }, [
    el('span', { class: 'cc-visually-hidden', text: t('typing') }),
    el('span', { class: 'cc-dot', 'aria-hidden': 'true' }),
    el('span', { class: 'cc-dot', 'aria-hidden': 'true' }),
    el('span', { class: 'cc-dot', 'aria-hidden': 'true' }),
  ]);
  const input = el('textarea', {
    id: 'cc-input', class: 'cc-input', 'data-testid': 'cc-input', rows: '1',
    placeholder: t('placeholder'), autocomplete: 'off', maxlength: '2000',
  });
  const form = el('form', { class: 'cc-composer', 'data-testid': 'cc-composer' }, [
    el('label', { class: 'cc-visually-hidden', for: 'cc-input', text: t('inputLabel') }),
    input,
    el('button', { type: 'submit', class: 'cc-send', 'data-testid': 'cc-send', 'aria-label': t('send') }, [icon('send')]),
  ]);
  // "My tickets" (tickets-view.js draws into it): shown in place of the chat.
  const tickets = el('section', {
    id: 'cc-tickets', class: 'cc-tickets', 'data-testid': 'cc-tickets', 'aria-labelledby': 'cc-tk-title', hidden: true,
  });
  const chat = el('div', { class: 'cc-chat', 'data-testid': 'cc-chat' }, [ticket, log, typing, form]);
  const panel = el('div', {
    id: 'cc-panel', class: 'cc-panel', 'data-testid': 'cc-panel', role: 'dialog',
    'aria-label': options.title, hidden: true,
  }, [header, chat, tickets]);
  const probe = el('span', { hidden: true });
  const root = el('div', { class: 'cc-root', 'data-position': options.position, lang: options.language },
    [launcher, panel, probe]);
  shadow.append(root);
  document.body.append(host);

  const palette = paletteFor(options.primaryColor, probe);
  root.style.setProperty('--cc-primary', options.primaryColor);
  root.style.setProperty('--cc-on-primary', palette.onPrimary);
  root.style.setProperty('--cc-accent', palette.accent);

  launcher.addEventListener('click', () => handlers.onToggle());
  closeButton.addEventListener('click', () => handlers.onClose());
  ticketsButton.addEventListener('click', () => handlers.onTickets());
  root.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !panel.hidden) {
      event.stopPropagation();
      handlers.onClose();
    }
  });
  function submit() {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    input.style.height = 'auto';
    handlers.onSubmit(text);
  }
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });

  function cards(articles) {
    const list = el('div', { class: 'cc-cards', role: 'list', 'aria-label': t('suggestions') });
    for (const article of articles) {
      if (!article || typeof article !== 'object') continue;
      const href = safeHref(article.url, options.apiUrl);
      const title = String(article.title ?? article.url ?? '');
      const heading = href
        ? el('a', { class: 'cc-card-title', href, target: '_blank', rel: 'noopener noreferrer', text: title })
        : el('span', { class: 'cc-card-title', text: title });
      list.append(el('div', { class: 'cc-card', role: 'listitem', 'data-testid': 'cc-card' }, [
        heading,
        article.snippet ? el('p', { class: 'cc-card-snippet', text: String(article.snippet) }) : null,
      ]));
    }
    return list;
  }

  function replies(buttons) {
    const row = el('div', { class: 'cc-replies' });
    for (const reply of buttons) {
      const button = el('button', { type: 'button', class: 'cc-reply', 'data-testid': 'cc-reply', text: String(reply.title) });
      button.addEventListener('click', () => handlers.onReply(reply));
      row.append(button);
    }
    return row;
  }

  /** The CSAT prompt of a resolved ticket: 1-5 buttons, an optional comment, send. */
  function survey(record) {
    const base = `cc-survey-${record.id}`;
    let rating = null;
    const question = el('p', { id: `${base}-q`, class: 'cc-survey-question', text: t('surveyQuestion') });
    const rates = [1, 2, 3, 4, 5].map((n) => el('button', {
      type: 'button', class: 'cc-rate', 'data-testid': 'cc-rate', 'data-rating': String(n),
      'aria-pressed': 'false', 'aria-label': t('surveyRate', { rating: n, label: t(`surveyLabel${n}`) }),
      text: String(n),
    }));
    const scale = el('div', { class: 'cc-survey-scale', role: 'group', 'aria-label': t('surveyScale') }, rates);
    const comment = el('textarea', {
      id: `${base}-comment`, class: 'cc-survey-comment', 'data-testid': 'cc-survey-comment',
      rows: '2', maxlength: '2000',
    });
    const error = el('p', { class: 'cc-survey-error', 'data-testid': 'cc-survey-error', role: 'alert' });
    const submit = el('button', {
      type: 'submit', class: 'cc-survey-submit', 'data-testid': 'cc-survey-submit', text: t('surveySubmit'),
    });
    const form = el('form', { class: 'cc-survey', 'data-testid': 'cc-survey', 'aria-labelledby': question.id }, [
      question, scale,
      el('label', { class: 'cc-survey-label', for: comment.id, text: t('surveyComment') }),
      comment, error, submit,
    ]);
    let pending = false;

    // While the answer is on its way nothing changes, but nothing is disabled either: a
    // disabled button would drop the keyboard focus to the page.
    function setPending(on) {
      pending = on;
      form.setAttribute('aria-busy', String(on));
      comment.readOnly = on;
      for (const button of [...rates, submit]) button.setAttribute('aria-disabled', String(on));
    }

    function pick(n) {
      if (pending) return;
      rating = n;
      for (const button of rates) button.setAttribute('aria-pressed', String(Number(button.dataset.rating) === n));
      error.textContent = '';
    }
    rates.forEach((button, index) => {
      button.addEventListener('click', () => pick(index + 1));
      // Arrow keys move along the scale, as in any row of options.
      button.addEventListener('keydown', (event) => {
        const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
        if (!step) return;
        event.preventDefault();
        rates[Math.min(Math.max(index + step, 0), rates.length - 1)].focus();
      });
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (pending) return;
      if (rating == null) {
        error.textContent = t('surveyPickRating');
        rates[0].focus();
        return;
      }
      error.textContent = '';
      setPending(true);
      const result = await handlers.onRate(record.id, { rating, comment: comment.value.trim() });
      // Answered: the widget has replaced this prompt already. Otherwise try again.
      setPending(false);
      if (result && result.error) error.textContent = result.error;
    });
    return form;
  }

  function message(record) {
    const sender = record.sender in labels ? record.sender : 'system';
    const item = el('div', {
      class: `cc-msg cc-msg--${sender}`, 'data-testid': 'cc-msg', 'data-sender': sender,
      'data-id': record.id,
    });
    if (labels[sender]) item.append(el('span', { class: 'cc-visually-hidden', text: `${labels[sender]}: ` }));
    if (sender === 'agent' && record.author) {
      item.append(el('span', { class: 'cc-author', 'aria-hidden': 'true', text: String(record.author) }));
    }
    if (record.text) item.append(sender === 'bot' ? botBubble(String(record.text)) : el('div', { class: 'cc-bubble', text: String(record.text) }));
    if (Array.isArray(record.articles) && record.articles.length) item.append(cards(record.articles));
    if (Array.isArray(record.replies) && record.replies.length) item.append(replies(record.replies));
    if (record.survey && typeof record.survey === 'object' && record.survey.token) {
      item.classList.add('cc-msg--survey');
      item.append(survey(record));
    }
    if (record.ts) {
      const date = new Date(record.ts);
      if (!Number.isNaN(date.getTime())) {
        item.append(el('time', { class: 'cc-time', datetime: date.toISOString(), text: formatTime.format(date) }));
      }
    }
    return item;
  }

  let unread = 0;
  function labelLauncher() {
    if (!panel.hidden) launcher.setAttribute('aria-label', t('closeChat'));
    else launcher.setAttribute('aria-label', unread ? t('openChatUnread', { count: unread }) : t('openChat'));
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  return {
    host,
    isOpen: () => !panel.hidden,
    setOpen(open) {
      panel.hidden = !open;
      root.toggleAttribute('data-open', open);
      launcher.setAttribute('aria-expanded', String(open));
      labelLauncher();
      if (open) scrollToEnd();
    },
    render(records) {
      log.replaceChildren();
      if (options.greeting) log.append(message({ id: 'greeting', sender: 'bot', text: options.greeting }));
      for (const record of records) log.append(message(record));
      scrollToEnd();
    },
    append(record) {
      log.append(message(record));
      scrollToEnd();
    },
    /** Draw `record` again in place of the message with its id (or at the end). */
    replace(record) {
      const old = [...log.children].find((node) => node.dataset.id === String(record.id));
      const hadFocus = old != null && old.contains(shadow.activeElement);
      if (old) old.replaceWith(message(record));
      else log.append(message(record));
      // The focused control is gone: keep the keyboard user in the conversation.
      if (hadFocus) input.focus();
    },
    removeReplies() {
      for (const row of log.querySelectorAll('.cc-replies')) row.remove();
    },
    setTyping(on) {
      typing.hidden = !on;
      if (on) scrollToEnd();
    },
    setStatus(state) {
      status.dataset.state = state;
      status.textContent = t(state);
    },
    setTicket(text) {
      ticket.hidden = !text;
      ticket.textContent = text || '';
    },
    ticketsSlot: tickets,
    showingTickets: () => !tickets.hidden,
    /** Show "My tickets" (true) or the chat (false) in the panel. */
    setTickets(on) {
      tickets.hidden = !on;
      chat.hidden = on;
      ticketsButton.setAttribute('aria-expanded', String(on));
      if (!on) scrollToEnd();
    },
    focusTicketsButton: () => ticketsButton.focus(),
    setUnread(count) {
      badge.hidden = count === 0;
      badge.textContent = count > 9 ? '9+' : String(count);
      unread = count;
      labelLauncher();
    },
    hasFocus: () => shadow.activeElement != null,
    focusInput: () => input.focus(),
    focusLauncher: () => launcher.focus(),
  };
}
