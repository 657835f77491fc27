// A stand-in for the project's socket.io channel (chatbot/care_channels.py: Rasa 3.6's
// socketio channel with signed conversations), for the widget's transport tests:
//   session_request {session_id, token} -> joins the room `session_id` when `token` is its
//   token (here: "sig-" + id; the real one is an HMAC), else starts a new hex id; emits
//   session_confirm {session_id, token}; user_uttered {message, session_id} -> bot_uttered
//   replies to the conversation this socket was confirmed for (another id: dropped).
//   GET /__log returns what it saw, as JSON.
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

  let bound = null;
  socket.on('session_request', (data) => {
    log.push({ event: 'session_request', data });
    const wanted = data && data.session_id;
    const valid = wanted && data.token === `sig-${wanted}`;
    const sessionId = valid ? wanted : randomBytes(16).toString('hex');
    if (bound && bound !== sessionId) socket.leave(bound);
    bound = sessionId;
    socket.join(sessionId);
    socket.emit('session_confirm', { session_id: sessionId, token: `sig-${sessionId}` });
  });

  socket.on('user_uttered', (data) => {
    log.push({ event: 'user_uttered', data });
    if (!data || !bound || (data.session_id && data.session_id !== bound)) return; // refused
    for (const reply of repliesFor(data.message)) io.to(bound).emit('bot_uttered', reply);
  });
});

http.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening ${http.address().port}`);
});

process.on('SIGTERM', () => {
  io.close();
  process.exit(0);
});
