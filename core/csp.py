"""The Content-Security-Policy middleware: django-csp's, without building policies for an exempt response.

django-csp builds both policies (the enforced and the report-only one) for every response before it
looks at whether the view is exempt (`csp_exempt()`); for the webhooks, exempt and the busiest routes,
that was ~0.1 ms of a ~1.2 ms request (docs/performance.md).
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        exempt = getattr(response, "_csp_exempt", False)  # what csp_exempt() sets
        if exempt and not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None):
            return response  # no header to add: neither policy applies
        return super().process_response(request, response)
