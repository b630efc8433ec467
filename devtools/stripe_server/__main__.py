"""`python -m devtools.stripe_server --port 12111`: run the local Stripe server in the foreground."""

from __future__ import annotations

import argparse
import contextlib

from .server import StripeServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.stripe_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=12111, help="port (default 12111; 0 picks a free one)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accept only this sk_test_/rk_test_ key (repeatable)",
    )
    parser.add_argument("--webhook-url", help="POST signed events to this URL")
    parser.add_argument("--webhook-secret", help="whsec_... secret for --webhook-url")
    parser.add_argument("--seed", type=int, help="seed for probabilistic faults")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")
    server = StripeServer(args.host, args.port, api_keys=args.api_keys, seed=args.seed, verbose=args.verbose)
    if args.webhook_url:
        server.webhooks.configure(server.accounts.default, url=args.webhook_url, secret=args.webhook_secret)
    print(f"Stripe-compatible test server on {server.base_url} (admin API under {server.base_url}/__admin)")
    print(f'  stripe.StripeClient("sk_test_...", base_addresses={{"api": "{server.base_url}"}})')
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
