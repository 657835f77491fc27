// The one interface the widget talks through. Before the handoff every message goes to
// the bot channel (Rasa over socket.io, or the `transport` option in tests); after it the
// ticket channel follows the ticket on the escalation service.
//
//   createTransport(options, store, events) -> {connect, send, startHandoff, stopHandoff,
//                                                rate, close}
//   startHandoff({token, eventId}): eventId is the last ticket event seen (resumes the stream)
//   rate(token, {rating, comment}) -> Promise<{ok, status, message}>: the CSAT survey of a
//     resolved ticket (the handoff may be over already: it takes the token itself)
//   lookup(tokens) -> Promise<[ticket summary]>: "My tickets" (unknown tokens left out)
//   follow(token, {onUpdate, onGone, onStatus}) -> {stop, refresh}: one ticket's thread, live
//   reply(token, body) -> Promise<{ok, status, message}>: write in any ticket of this browser
//   events: {onBotMessage(msg), onTicketUpdate(conversation), onTicketGone(),
//            onTicketEventId(id), onStatus(channel: 'bot'|'ticket', state), onSendFailed(text)}
import { createSocketTransport } from './socket-transport.js';
import { createTicketChannel, lookupTickets, postMessage, postSurvey } from './ticket-channel.js';

export function createTransport(options, store, events) {
  const botFactory = options.transport || createSocketTransport;
  const bot = botFactory(
    {
      url: options.rasaUrl,
      path: options.socketPath,
      getSession: () => ({ id: store.getText('session_id'), token: store.getText('session_token') }),
      metadata: () => {
        const data = {};
        if (options.user) data.user = options.user;
        if (options.identity) data.identity = options.identity;
        if (options.language) data.language = options.language;
        return Object.keys(data).length ? data : null;
      },
    },
    {
      onMessage: (message) => events.onBotMessage(message),
      onStatus: (state) => events.onStatus('bot', state),
      onSession: (id, token) => {
        store.setText('session_id', id);
        if (token) store.setText('session_token', token);
        else store.remove('session_token');
      },
    },
  );
  let connected = false;
  let ticket = null;

  function connect() {
    if (connected) return;
    connected = true;
    bot.connect();
  }

  function send(text) {
    // THE switch: where a customer's message goes once a person owns the conversation.
    // 'api' posts it to the ticket thread; 'rasa' keeps sending it to the bot (the Rasa
    // actions forward a message for a ticket an agent owns to the ticket).
    if (ticket && options.handoffTransport === 'api') {
      ticket.send(text).catch(() => events.onSendFailed(text));
      return 'ticket';
    }
    connect();
    bot.send(text);
    return 'bot';
  }

  function startHandoff({ token, eventId }) {
    stopHandoff();
    ticket = createTicketChannel(
      { apiUrl: options.apiUrl, token, interval: options.pollInterval, lastEventId: eventId },
      {
        onUpdate: (conversation) => events.onTicketUpdate(conversation),
        onGone: () => events.onTicketGone(),
        onEventId: (id) => events.onTicketEventId(id),
        onStatus: (state) => events.onStatus('ticket', state),
      },
    );
    ticket.start();
  }

  function stopHandoff() {
    if (ticket) ticket.stop();
    ticket = null;
  }

  function rate(token, answer) {
    return postSurvey(options.apiUrl, token, answer);
  }

  function lookup(tokens) {
    return lookupTickets(options.apiUrl, tokens);
  }

  function follow(token, handlers) {
    const channel = createTicketChannel(
      { apiUrl: options.apiUrl, token, interval: options.pollInterval },
      { onEventId: () => {}, ...handlers },
    );
    channel.start();
    return channel;
  }

  function reply(token, body) {
    return postMessage(options.apiUrl, token, body);
  }

  function close() {
    stopHandoff();
    if (connected) bot.close();
    connected = false;
  }

  return { connect, send, startHandoff, stopHandoff, rate, lookup, follow, reply, close };
}
