"""The bare-view ceiling: a Django view that does one INSERT per request and nothing else.

Served by the same gunicorn command and settings (bench.bare_settings) as the product, so the
difference between the two is exactly what the ingestion path does beyond one INSERT.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

BARE_TABLE = "bench_bare"
_OK = b'{"status":"ok"}'


@csrf_exempt
def bare_insert(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BARE_TABLE} (body, received_at) VALUES (%s::jsonb, now())",  # noqa: S608
            [request.body.decode()],
        )
    return HttpResponse(_OK, content_type="application/json")


urlpatterns = [path("bare", bare_insert)]
