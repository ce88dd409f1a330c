"""The rule base as a service (事前提醒 / 事中审核): hospital systems check a claim before
it settles.

``fraudml serve`` runs :func:`create_app` under uvicorn. The same compiled rules as
``make rules`` answer each check (:mod:`fraudml.service.engine`), over the claim and the
history of its patients held in DuckDB (:mod:`fraudml.service.history`); the decision
follows the hits' result and severity and the stage asked for
(:mod:`fraudml.service.decision`), every decision goes to an audit log
(:mod:`fraudml.service.audit`)::

    from fraudml.service import Service, ServiceSettings, create_app

    with fraudml.validate("data/synthetic/small") as ds:
        service = Service.start(fraudml.load_rule_base(), ds, ServiceSettings())
        app = create_app(service)  # an ASGI application
"""

from fraudml.service.app import create_app
from fraudml.service.service import RequestProblem, Service
from fraudml.service.settings import DecisionPolicy, ServiceSettings, SuspensionSettings

__all__ = [
    "DecisionPolicy",
    "RequestProblem",
    "Service",
    "ServiceSettings",
    "SuspensionSettings",
    "create_app",
]
