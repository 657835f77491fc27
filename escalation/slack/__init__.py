"""Slack: employees get IT help in Slack, and the desk works there too.

- Rasa's Slack channel (``chatbot/slack_channel.py``) receives the Events API; messages in
  the thread of a ticket an agent owns come here (:mod:`.threads`) instead of to the bot.
- The worker turns ticket events into posts (:mod:`.notify`): agent replies and status
  changes in the person's thread, new tickets in the staff channel, rating buttons.
- Buttons (take a ticket, rate it) arrive at ``POST /slack/interactivity``
  (:mod:`.interactivity`), verified with the signing secret (:mod:`.signing`).
- :mod:`.client` is the one client of the Slack Web API (base URL is a setting).
"""
