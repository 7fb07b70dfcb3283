"""Where each decision goes, all reading one catalogue of reasons (das_guard.reasons):

channels.py  the one shape of an output (Channel: take / sweep_done / flush) and Signals (metrics, failures)
report.py    the Reporter (log line, EMF metrics, then every channel) and two channels: Alerts (SNS), ResultEvents
             (EventBridge)
findings.py  the third channel, Security Hub: one ASFF finding per cluster, imported only when its state changes
alerts.py    what every alert says (subject and body), pure - the central notifier uses it too
ocsf.py      the same verdict as an OCSF 1.5.0 Compliance Finding
"""
