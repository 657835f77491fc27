"""E-mail: customers write in, and hear back.

- :mod:`.inbound` turns a raw RFC 822 message into a ticket or a reply on one (auto-replies,
  bounces and loops are recognised and dropped); it is fed by :mod:`.imap` (the worker polls
  a mailbox) or by ``flask mail-in`` (an MTA pipes one message to stdin).
- :mod:`.notify` writes the mails a ticket change causes into the outbox (:mod:`.outbox`),
  in the same transaction as the change; the worker delivers them through :mod:`.outbound`.
- :mod:`.messageids` makes our Message-IDs and threads replies to their ticket.

Templates are Jinja files in ``escalation/templates/mail/`` (admin-editable templates in the
database are a later step).
"""
