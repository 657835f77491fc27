// The widget's own words. Only English for now: another language is one more table here,
// picked by the primary subtag of the `language` option ("de-CH" -> "de").
const STRINGS = {
  en: {
    openChat: 'Open chat',
    openChatUnread: 'Open chat ({count} unread)',
    closeChat: 'Close chat',
    inputLabel: 'Your message',
    placeholder: 'Type your message…',
    send: 'Send',
    you: 'You',
    assistant: 'Assistant',
    agent: 'Support agent',
    typing: 'The assistant is typing',
    suggestions: 'Suggested articles',
    connecting: 'Connecting…',
    online: 'Online',
    reconnecting: 'Reconnecting…',
    offline: 'Offline',
    ticketQueued: 'Ticket {ticket} — a person from our team will join shortly',
    ticketWithAgent: 'Ticket {ticket} — {agent} is helping you',
    agentJoined: '{agent} joined the conversation',
    ticketResolved: 'Ticket {ticket} was resolved. You are chatting with our assistant again.',
    ticketHandedBack: 'Ticket {ticket} is still open: you can follow it in My tickets. You are chatting with our assistant again.',
    ticketGone: 'Ticket {ticket} is no longer available. You are chatting with our assistant again.',
    sendFailed: 'Your message could not be delivered. Please try again.',
    myTickets: 'My tickets',
    chat: 'Chat',
    backToChat: 'Back to chat',
    backToTickets: 'Back to my tickets',
    ticketsLoading: 'Loading…',
    ticketsEmpty: 'No tickets yet. When you talk to a person, your ticket appears here.',
    ticketsError: 'Your tickets could not be loaded: our ticket service is not reachable right now.',
    retry: 'Try again',
    noSubject: '(no subject)',
    updated: 'Updated {when}',
    statusNew: 'Waiting for a person',
    statusAssigned: 'Assigned',
    statusInProgress: 'In progress',
    statusWaiting: 'Waiting for your reply',
    statusResolved: 'Resolved',
    statusClosed: 'Closed',
    threadLabel: 'Messages of ticket {ticket}',
    threadEmpty: 'No messages yet.',
    threadGone: 'This ticket is no longer available.',
    ticketClosedNote: 'This ticket is closed. Start a new conversation to reach us again.',
    replyLabel: 'Your reply',
    replyPlaceholder: 'Write a reply…',
    sendReply: 'Send reply',
    surveyQuestion: 'How did we do?',
    surveyScale: 'Your rating, from 1 (poor) to 5 (excellent)',
    surveyRate: 'Rate {rating} of 5: {label}',
    surveyLabel1: 'very poor',
    surveyLabel2: 'poor',
    surveyLabel3: 'okay',
    surveyLabel4: 'good',
    surveyLabel5: 'excellent',
    surveyComment: 'Anything to add? (optional)',
    surveySubmit: 'Send rating',
    surveyPickRating: 'Choose a rating from 1 to 5 first.',
    surveyThanks: 'Thank you for your feedback!',
    surveyFailed: 'Your rating could not be sent. Please try again.',
  },
};

/** A translate function for `language`: t('ticketQueued', {ticket: 'CR-1'}). */
export function translator(language) {
  const primary = String(language || 'en').toLowerCase().split('-')[0];
  const table = STRINGS[primary] || STRINGS.en;
  return (key, vars = {}) => {
    const text = table[key] ?? STRINGS.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? '').toString());
  };
}
