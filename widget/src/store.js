// What the widget keeps between page loads, in localStorage under keys prefixed
// "carechat:". Where storage is unavailable (blocked cookies, some private modes) it falls
// back to memory, so the widget still works for the life of the page.
//
//   carechat:session_id  the Rasa session id (plain text, as Rasa confirmed it)
//   carechat:session_token  the token Rasa issued with it: without it the conversation
//                        cannot be continued (not even by this browser)
//   carechat:history     the messages shown in the panel (JSON list, newest last)
//   carechat:handoff     {ticket, token, owner, agent, status, seen, eventId} while a
//                        person owns the chat
//   carechat:tickets     [{ticket, token, added}]: every ticket this browser opened, newest
//                        first, capped ("My tickets")

const PREFIX = 'carechat:';
export const HISTORY_LIMIT = 200;
export const TICKETS_LIMIT = 20; // also the most the lookup endpoint takes at once

function memoryStorage() {
  const data = new Map();
  return {
    getItem: (key) => (data.has(key) ? data.get(key) : null),
    setItem: (key, value) => data.set(key, String(value)),
    removeItem: (key) => data.delete(key),
  };
}

function browserStorage() {
  try {
    const storage = window.localStorage;
    const probe = `${PREFIX}probe`;
    storage.setItem(probe, '1');
    storage.removeItem(probe);
    return storage;
  } catch (error) {
    // SecurityError or QuotaExceededError: storage is switched off for this page.
    return memoryStorage();
  }
}

export function createStore(storage = browserStorage()) {
  function write(key, value) {
    try {
      storage.setItem(PREFIX + key, value);
    } catch (error) {
      console.warn(`[CareChat] could not save ${key}: ${error.name}`);
    }
  }

  return {
    getText(key) {
      return storage.getItem(PREFIX + key);
    },
    setText(key, value) {
      write(key, String(value));
    },
    getJSON(key, fallback) {
      const raw = storage.getItem(PREFIX + key);
      if (raw == null) return fallback;
      try {
        return JSON.parse(raw);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        return fallback;
      }
    },
    setJSON(key, value) {
      write(key, JSON.stringify(value));
    },
    remove(key) {
      storage.removeItem(PREFIX + key);
    },
  };
}

/** The message history: a list of records, saved on every change, capped. */
export function createHistory(store) {
  const saved = store.getJSON('history', []);
  let records = Array.isArray(saved) ? saved.filter((r) => r && typeof r === 'object') : [];

  function save() {
    if (records.length > HISTORY_LIMIT) records = records.slice(-HISTORY_LIMIT);
    store.setJSON('history', records);
  }

  return {
    all: () => records.slice(),
    add(record) {
      records.push(record);
      save();
      return record;
    },
    /** Replace the fields of the record with `id`; returns the new record, or null. */
    update(id, fields) {
      const index = records.findIndex((r) => r.id === id);
      if (index < 0) return null;
      records[index] = { ...records[index], ...fields };
      save();
      return records[index];
    },
    find: (id) => records.find((r) => r.id === id) || null,
    /** Drop the quick-reply buttons of earlier messages once the customer has answered. */
    retireReplies() {
      let changed = false;
      for (const record of records) {
        if (record.replies) {
          delete record.replies;
          changed = true;
        }
      }
      if (changed) save();
      return changed;
    },
  };
}

/** The tickets of this browser ("My tickets"): number and conversation token, newest first. */
export function createTicketList(store) {
  const valid = (e) => e && typeof e === 'object' && typeof e.token === 'string' && e.token;
  const saved = store.getJSON('tickets', []);
  let entries = Array.isArray(saved) ? saved.filter(valid) : [];

  function save() {
    entries = entries.slice(0, TICKETS_LIMIT);
    store.setJSON('tickets', entries);
  }

  return {
    all: () => entries.slice(),
    /** Remember {ticket, token} (again at the top when known already). */
    add({ ticket, token }) {
      if (typeof token !== 'string' || !token) return;
      const known = entries.find((e) => e.token === token);
      entries = [
        { ticket: String(ticket || (known && known.ticket) || ''), token, added: (known && known.added) || Date.now() },
        ...entries.filter((e) => e.token !== token),
      ];
      save();
    },
    /** After a lookup of the tokens `asked`: drop those the service did not find (the ticket
     * is gone), and keep the numbers up to date. */
    sync(found, asked) {
      const numbers = new Map(found.map((t) => [t.token, t.number]));
      const gone = new Set(asked.filter((token) => !numbers.has(token)));
      const before = entries.length;
      entries = entries.filter((e) => !gone.has(e.token));
      for (const e of entries) if (numbers.get(e.token)) e.ticket = String(numbers.get(e.token));
      if (entries.length !== before || found.length) save();
    },
  };
}
