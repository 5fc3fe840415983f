"""Notification: knows every deadline, raises alerts and delivers them to screen, webhooks and e-mail."""
