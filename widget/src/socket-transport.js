// The bot channel: socket.io to Rasa's socketio input channel (docs/interfaces.md).
//
// A bot channel is any factory `(config, events) => {connect(), send(text), close()}`.
//   config: {url, path, getSession() -> {id, token}, metadata()}
//   events: {onMessage(botUttered), onStatus('connecting'|'online'|'reconnecting'|'offline'),
//            onSession(sessionId, token)}
// Rasa (chatbot/care_channels.py) continues a conversation only for the token it issued with
// it; for any other id it starts a new one, and the widget keeps whatever it confirms.
// This is the real one; tests pass their own through the `transport` option.
import { io } from 'socket.io-client';

export function createSocketTransport(config, events) {
  let socket = null;
  let confirmed = false;
  // Messages wait here until Rasa has confirmed the session on the current connection:
  // socket.io's own buffer would flush them before `session_request`, and Rasa would send
  // the reply to a room this connection has not joined yet.
  const queue = [];

  function flush() {
    while (socket && confirmed && queue.length) {
      const { text, metadata } = queue.shift();
      // The session id is read when sending: the first message of a brand-new visitor is
      // typed before Rasa has confirmed (and so named) the session.
      const message = { message: text, session_id: config.getSession().id };
      if (metadata) message.customData = metadata;
      socket.emit('user_uttered', message);
    }
  }

  function connect() {
    if (socket) return;
    events.onStatus('connecting');
    socket = io(config.url, {
      path: config.path,
      // Rasa 3.6 runs on Sanic 21.12, whose websocket code fails on Python 3.11:
      // long-polling only, and never try to upgrade.
      transports: ['polling'],
      upgrade: false,
      reconnectionDelayMax: 10000,
      withCredentials: false,
    });

    socket.on('connect', () => {
      confirmed = false;
      const { id, token } = config.getSession();
      socket.emit('session_request', { session_id: id || null, token: (id && token) || null });
    });

    socket.on('session_confirm', (data) => {
      const id = data && typeof data === 'object' ? data.session_id : data;
      const token = data && typeof data === 'object' ? data.token : null;
      if (id) events.onSession(String(id), typeof token === 'string' ? token : null);
      confirmed = true;
      events.onStatus('online');
      flush();
    });

    socket.on('bot_uttered', (message) => {
      if (message && typeof message === 'object') events.onMessage(message);
    });

    socket.on('disconnect', (reason) => {
      confirmed = false;
      if (reason === 'io client disconnect') {
        events.onStatus('offline');
        return;
      }
      events.onStatus('reconnecting');
      // The server closed the connection on purpose: socket.io does not retry by itself.
      if (reason === 'io server disconnect') socket.connect();
    });

    socket.on('connect_error', () => {
      events.onStatus('reconnecting');
    });
  }

  function send(text) {
    queue.push({ text, metadata: config.metadata() });
    flush();
  }

  function close() {
    if (!socket) return;
    socket.disconnect();
    socket.removeAllListeners();
    socket = null;
    confirmed = false;
  }

  return { connect, send, close };
}
