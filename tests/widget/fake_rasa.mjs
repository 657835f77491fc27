// A stand-in for Rasa 3.6's socketio input channel (rasa/core/channels/socketio.py) with
// session persistence on, for the widget's transport tests:
//   session_request {session_id|null} -> joins the room `session_id` (a new hex id when
//   null) and emits session_confirm <session_id>; user_uttered {message, session_id} ->
//   bot_uttered replies to that room. GET /__log returns what it saw, as JSON.
//
//   node fake_rasa.mjs [port]     prints "listening <port>" once it accepts connections
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';

// socket.io (the server) is a devDependency of the widget.
const require = createRequire(new URL('../../widget/package.json', import.meta.url));
const { Server } = require('socket.io');

const log = [];

const REPLIES = {
  hello: [{ text: 'Hi! I am the ACME assistant.' }],
  buttons: [{ text: 'Did that help?', quick_replies: [
    { content_type: 'text', title: 'Yes, thanks', payload: '/affirm' },
    { content_type: 'text', title: 'No', payload: '/deny' },
  ] }],
  articles: [
    { text: 'These articles may help:' },
    { articles: [{ article_id: 'reset-password', title: 'Reset your password', url: '/help/reset-password', snippet: 'Use the "Forgot password" link.' }] },
  ],
  human: [
    { text: 'I opened ticket CR-10001 for you.' },
    { handoff: { ticket: 'CR-10001', token: 'tok-socket' } },
  ],
};

function repliesFor(message) {
  return REPLIES[message] || [{ text: `You said: ${message}` }];
}

const http = createServer((request, response) => {
  if (request.url === '/__log') {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(log));
    return;
  }
  response.writeHead(404);
  response.end();
});

const io = new Server(http, {
  path: '/socket.io/',
  cors: { origin: '*' },
});

io.on('connection', (socket) => {
  log.push({ event: 'connect', transport: socket.conn.transport.name });
  socket.conn.on('upgrade', (transport) => log.push({ event: 'upgrade', transport: transport.name }));

  socket.on('session_request', (data) => {
    log.push({ event: 'session_request', data });
    const sessionId = (data && data.session_id) || randomBytes(16).toString('hex');
    socket.join(sessionId);
    socket.emit('session_confirm', sessionId);
  });

  socket.on('user_uttered', (data) => {
    log.push({ event: 'user_uttered', data });
    if (!data || !data.session_id) return; // Rasa ignores these with session persistence on
    for (const reply of repliesFor(data.message)) io.to(data.session_id).emit('bot_uttered', reply);
  });
});

http.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening ${http.address().port}`);
});

process.on('SIGTERM', () => {
  io.close();
  process.exit(0);
});
