// Customer Care Registry chat widget. The bundle (dist/carechat.js) is one IIFE whose only
// global is `window.CareChat`:
//
//   CareChat.init({rasaUrl, apiUrl, title, ...})   options and defaults: options.js, README.md
//   CareChat.open()  CareChat.close()  CareChat.setUser({name, email})
//
// Or with no code at all: <script src=".../carechat.js" data-rasa-url="..."></script>
import { DEFAULTS, optionsFromDataset, resolveOptions } from './options.js';
import { createWidget } from './widget.js';

// Read while this script runs: document.currentScript is null afterwards.
const script = document.currentScript;

function originOf(src) {
  try {
    return new URL(src, document.baseURI).origin;
  } catch (error) {
    return '';
  }
}
const scriptOrigin = script && script.src ? originOf(script.src) : '';

let widget = null;
let starting = false;
const waiting = []; // calls made between init() and <body> being ready

function call(method, ...args) {
  if (widget) widget[method](...args);
  else if (starting) waiting.push([method, args]);
  else console.warn(`[CareChat] call CareChat.init({...}) before CareChat.${method}().`);
}

const CareChat = Object.freeze({
  version: __CARECHAT_VERSION__,
  defaults: DEFAULTS,
  init(options) {
    if (widget || starting) {
      console.warn('[CareChat] init() was already called; this call is ignored.');
      return CareChat;
    }
    starting = true;
    const resolved = resolveOptions(options, scriptOrigin);
    const start = () => {
      widget = createWidget(resolved);
      starting = false;
      for (const [method, args] of waiting.splice(0)) widget[method](...args);
    };
    if (document.body) start();
    else document.addEventListener('DOMContentLoaded', start, { once: true });
    return CareChat;
  },
  open: () => call('open'),
  close: () => call('close'),
  setUser: (user) => call('setUser', user),
});

if (window.CareChat) {
  console.warn('[CareChat] carechat.js was loaded twice; keeping the first copy.');
} else {
  window.CareChat = CareChat;
  if (script && script.dataset.rasaUrl !== undefined) {
    CareChat.init(optionsFromDataset(script.dataset));
  }
}
