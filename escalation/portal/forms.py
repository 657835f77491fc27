"""The portal's forms (Flask-WTF: every form carries the CSRF token, like the consoles)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..triage import CATEGORIES


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password (at least 10 characters)", validators=[DataRequired(), Length(max=200)])


class SignInForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class EmailForm(FlaskForm):
    """Ask for a mail: a sign-in link, a password reset."""

    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password (at least 10 characters)", validators=[DataRequired(), Length(max=200)])


class ButtonForm(FlaskForm):
    """A button that changes something (sign out, solved, reopen, confirm): only the CSRF token."""


class ReplyForm(FlaskForm):
    body = TextAreaField("Your reply", validators=[DataRequired(), Length(max=20_000)])


class TicketForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Describe the problem", validators=[DataRequired(), Length(max=20_000)])
    category = SelectField("Category", choices=[SelectChoice(c, c.replace("-", " ").capitalize())
                                                      for c in CATEGORIES])


class SelfServedForm(FlaskForm):
    """"This answered my question": which article, and what the customer had typed."""

    article_id = HiddenField(validators=[DataRequired(), Length(max=128)])
    question = HiddenField(validators=[Length(max=2000)])
