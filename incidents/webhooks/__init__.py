"""Outbound webhooks (issue #17): admins subscribe URLs to events; messages are signed (Standard
Webhooks), delivered by the worker with retries, logged, and formatted for Slack or Teams on request.

- models.py: subscriptions, messages, attempts (the delivery log), markers of periodic events;
- events.py: `emit()`, called by the services in the transaction of the change, and the payloads;
- presets.py: the standard envelope, Slack and Microsoft Teams bodies;
- jobs.py: delivery with retries and automatic disabling; the periodic events;
- service.py, forms.py, views.py: the admins' pages under /admin/webhooks.
"""
