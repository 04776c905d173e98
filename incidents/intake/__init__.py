"""Alert intake (issue #17): Prometheus Alertmanager, Grafana alerting and a generic JSON webhook
declare incidents or add to them, each intake with its own bearer token (`dli_…`).

- models.py: intakes, alert groups (which incident a group key declared) and received deliveries
- payloads.py: the three payload shapes, checked by pydantic, read into one `Notification`
- reading.py: severity, title and the Markdown an intake writes from a notification
- auth.py: Grafana's HMAC signature; manage.py: making, revoking and finding intakes by token
- service.py: receiving a delivery (once, whatever the concurrency)
- views.py: POST /api/v1/intake/<kind>; settings_views.py + forms.py: the admins' pages and a
  delivery's page; cli.py: `flask intake`
"""
