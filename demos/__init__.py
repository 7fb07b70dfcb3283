"""What a person runs to see DAS Guard work, on the embedded local AWS (`localaws`, which stays the local AWS only):

demo.py       `make demo`: the real handler, every sample event, what it decided and why
demo_org.py   `make demo-org`: the organisation roll-out by the central stack's StackSet
rehearsal.py  `make rehearse`: docs/deploying.md's first-deploy checklist, step by step
progress.py   one line per phase on a terminal's stderr while a demo works
"""
