"""The embedded local AWS: moto plus DAS Guard's activity-stream extension, and what the demo and the
tests need around it (a threaded moto server, a Lambda/SQS runtime emulation, a seeded scenario).

Never deployed: this package is outside the Lambda CodeUri (functions/).
"""

from .das_extension import install

__all__ = ["install"]
