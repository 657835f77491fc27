// Every option the widget understands, with its default. README.md mirrors this object in
// its "Options" table, and tests/widget/test_docs.py checks that the two agree.
export const DEFAULTS = Object.freeze({
  rasaUrl: 'http://127.0.0.1:5005',
  socketPath: '/socket.io/',
  apiUrl: null,
  portalUrl: null,
  title: 'Customer Care',
  greeting: 'Hi! How can we help you today?',
  primaryColor: '#1f5fbf',
  position: 'right',
  language: 'en',
  user: null,
  identity: null,
  open: false,
  pollInterval: 2000,
  handoffTransport: 'api',
  transport: null,
});

const POSITIONS = ['right', 'left'];
const HANDOFF_TRANSPORTS = ['rasa', 'api'];

function warn(message) {
  console.warn(`[CareChat] ${message}`);
}

function trimSlash(url) {
  return url.replace(/\/+$/, '');
}

/** A clean copy of `user`: only string `name` and `email`, or null. */
export function cleanUser(user) {
  if (user == null) return null;
  if (typeof user !== 'object') {
    warn('`user` must be an object like {name, email}; ignored.');
    return null;
  }
  const clean = {};
  for (const key of ['name', 'email']) {
    if (user[key] != null && user[key] !== '') clean[key] = String(user[key]);
  }
  return Object.keys(clean).length ? clean : null;
}

/**
 * Merge the caller's options over DEFAULTS, checking each one. A bad value is replaced by
 * its default with a console warning: a typo in an embed snippet must not break the page.
 * `scriptOrigin` is where carechat.js was loaded from (the escalation service serves it),
 * the default for `apiUrl`.
 */
export function resolveOptions(input, scriptOrigin) {
  const given = input && typeof input === 'object' ? input : {};
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULTS)) warn(`unknown option \`${key}\` ignored.`);
  }
  const o = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (given[key] !== undefined) o[key] = given[key];
  }

  for (const key of ['rasaUrl', 'socketPath', 'title', 'greeting', 'language']) {
    if (typeof o[key] !== 'string') {
      warn(`\`${key}\` must be a string; using the default.`);
      o[key] = DEFAULTS[key];
    }
  }
  o.rasaUrl = trimSlash(o.rasaUrl);
  if (o.apiUrl == null || o.apiUrl === '') o.apiUrl = scriptOrigin || '';
  o.apiUrl = trimSlash(String(o.apiUrl));
  // where My tickets sends a customer for every ticket of their e-mail address; "" hides the link
  if (o.portalUrl == null) o.portalUrl = `${o.apiUrl}/portal/tickets`;
  o.portalUrl = /^(https?:\/\/|\/)/.test(String(o.portalUrl)) ? String(o.portalUrl) : '';

  if (!POSITIONS.includes(o.position)) {
    warn(`\`position\` must be one of ${POSITIONS.join(', ')}; using "right".`);
    o.position = DEFAULTS.position;
  }
  if (typeof o.primaryColor !== 'string' || !CSS.supports('color', o.primaryColor)) {
    warn('`primaryColor` is not a CSS color; using the default.');
    o.primaryColor = DEFAULTS.primaryColor;
  }
  if (!HANDOFF_TRANSPORTS.includes(o.handoffTransport)) {
    warn(`\`handoffTransport\` must be one of ${HANDOFF_TRANSPORTS.join(', ')}.`);
    o.handoffTransport = DEFAULTS.handoffTransport;
  }
  const interval = Number(o.pollInterval);
  o.pollInterval = Number.isFinite(interval) && interval >= 200 ? interval : DEFAULTS.pollInterval;
  if (o.transport !== null && typeof o.transport !== 'function') {
    warn('`transport` must be a function; using socket.io.');
    o.transport = null;
  }
  o.open = o.open === true || o.open === 'true';
  o.user = cleanUser(o.user);
  // a signed identity from the customer portal: opaque here, checked by the bot with the service
  o.identity = typeof o.identity === 'string' && o.identity ? o.identity : null;
  return o;
}

/**
 * Options from the script tag's data attributes, for the one-tag embed:
 * `<script src=".../carechat.js" data-rasa-url="..." data-title="..."></script>`.
 */
export function optionsFromDataset(dataset) {
  const options = {};
  for (const key of Object.keys(DEFAULTS)) {
    if (key !== 'transport' && key !== 'user' && dataset[key] !== undefined) {
      options[key] = dataset[key];
    }
  }
  const user = { name: dataset.userName, email: dataset.userEmail };
  if (user.name || user.email) options.user = user;
  if (options.pollInterval !== undefined) options.pollInterval = Number(options.pollInterval);
  return options;
}
