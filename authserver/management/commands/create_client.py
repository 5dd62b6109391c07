import json

from django.core.management.base import BaseCommand, CommandError

from authserver.clients import GRANTS, ClientError, create_client


class Command(BaseCommand):
    help = "Create an OAuth client with a scope ceiling and print its id and secret once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--grant", required=True, choices=sorted(GRANTS))
        parser.add_argument("--scopes", required=True, help="comma-separated scope names (the ceiling)")
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument("--public", action="store_true", help="a public client (no secret)")
        parser.add_argument("--client-id", help="a fixed client_id (default: generated)")
        parser.add_argument(
            "--introspect", action="store_true", help="a resource server: may call the introspection endpoint"
        )
        parser.add_argument(
            "--jwks", help="a file with the client's JWK Set of public keys: it signs assertions (private_key_jwt)"
        )
        parser.add_argument("--jwks-uri", default="", help="the https URL of the client's JWK Set (private_key_jwt)")
        parser.add_argument(
            "--refresh-grace",
            type=int,
            dest="refresh_grace",
            help="its refresh grace window in seconds (0: none; default and most: the server's)",
        )
        parser.add_argument(
            "--exchange-audience",
            action="append",
            default=[],
            dest="exchange_audiences",
            help="an absolute URI it may exchange users' tokens for (RFC 8693 token exchange; repeatable)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, name, grant, scopes, redirect_uris, public, client_id, introspect, json: bool, **options):
        names = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            jwks = _load_json(options["jwks"]) if options["jwks"] else None
            client = create_client(
                name,
                grant,
                names,
                redirect_uris,
                public=public,
                client_id=client_id,
                may_introspect=introspect,
                jwks=jwks,
                jwks_uri=options["jwks_uri"],
                refresh_grace_seconds=options["refresh_grace"],
                token_exchange_audiences=options["exchange_audiences"],
            )
        except ClientError as exc:
            raise CommandError(str(exc)) from exc
        if json:
            self.stdout.write(_dumps({"client_id": client.client_id, "client_secret": client.client_secret}))
        else:
            self.stdout.write(f"client_id: {client.client_id}")
            if client.client_secret:
                self.stdout.write(f"client_secret: {client.client_secret}")


_dumps = json.dumps


def _load_json(path: str):
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError) as exc:
        raise ClientError(f"Cannot read a JWK Set from {path}: {exc}") from exc
