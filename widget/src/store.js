// What the widget keeps between page loads, in localStorage under keys prefixed
// "carechat:". Where storage is unavailable (blocked cookies, some private modes) it falls
// back to memory, so the widget still works for the life of the page.
//
//   carechat:session_id  the Rasa session id (plain text, as Rasa confirmed it)
//   carechat:history     the messages shown in the panel (JSON list, newest last)
//   carechat:handoff     {ticket, token, owner, agent, status, seen, eventId} while a
//                        person owns the chat

const PREFIX = 'carechat:';
export const HISTORY_LIMIT = 200;

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
