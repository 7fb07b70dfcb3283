"""Where each decision goes, all reading one catalogue of reasons (das_guard.reasons):

report.py    the Reporter: log line, EMF metrics, result events, Security Hub and alerts for every decision,
             through channels (Alerts, ResultEvents, SecurityHubChannel) the composition root hands it
alerts.py    what every alert says (subject and body), pure - the central notifier uses it too
findings.py  Security Hub: one ASFF finding per cluster, imported only when its state changes
ocsf.py      the same verdict as an OCSF 1.5.0 Compliance Finding
"""
