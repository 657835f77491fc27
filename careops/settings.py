"""The settings ``make run`` reads itself (the processes read theirs: escalation.config,
kb_index.settings, the Rasa side's own), declared with the project's one Setting type."""
from __future__ import annotations

from care_settings import Setting

PORT = Setting("port", "CARE_PORT", 5000, "Port `make run` starts the escalation service on.")
RASA_PORT = Setting("rasa_port", "CARE_RASA_PORT", 5005, "Port `make run` starts Rasa on.")
ACTIONS_PORT = Setting("actions_port", "CARE_ACTIONS_PORT", 5055, "Port `make run` starts the action server on.")
INSTANCE_DIR = Setting("instance_dir", "CARE_INSTANCE_DIR", "instance",
                       "Folder for the database, `config.py` and `secrets.env` (relative: to the repository).")
RASA_CORS_ORIGINS = Setting("rasa_cors_origins", "CARE_RASA_CORS_ORIGINS", "",
                            "Space-separated origins whose pages may call Rasa from a browser (the sites that "
                            "embed the widget); empty: the origin of `CARE_PUBLIC_URL`.")
MAIL_CATCHER_SMTP_PORT = Setting("mail_catcher_smtp_port", "CARE_MAIL_CATCHER_SMTP_PORT", 1025,
                                 "SMTP port of the development mail catcher (used when `CARE_SMTP_HOST` is empty).")
MAIL_CATCHER_PORT = Setting("mail_catcher_port", "CARE_MAIL_CATCHER_PORT", 8025,
                            "Web page port of the development mail catcher.")

SETTINGS: tuple[Setting, ...] = (PORT, RASA_PORT, ACTIONS_PORT, INSTANCE_DIR, RASA_CORS_ORIGINS,
                                 MAIL_CATCHER_SMTP_PORT, MAIL_CATCHER_PORT)
