"""How the client commands reach the API: the credential, an authenticated httpx client, and error reporting.

The CLI is an ordinary API client. It signs in with `STELLARFLOW_TOKEN`, else the API key `stellarflow up`
wrote to `<data dir>/cli.key`, else the key of the stack `up` last started (`cli/profile.py`), and turns API
errors into one message and exit code 2. (Not named `http.py`: that would shadow the standard library's `http` if
a file in this folder were ever run as a script.)
"""

from __future__ import annotations

import httpx
import typer

from cli import profile
from cli.output import err_console


def credential() -> str | None:
    """`STELLARFLOW_TOKEN` (a JWT or an API key), else the key `stellarflow up` wrote to `<data dir>/cli.key`, else
    the key file of the stack `up` last started (cli/profile.py), so the CLI works from any folder."""
    from core.settings import get_settings

    return profile.credential(get_settings().cli_key_file).value


def client() -> httpx.Client:
    """An httpx client on the API's URL (the settings', else the remembered stack's), carrying the credential."""
    from core.settings import get_settings

    token = credential()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=profile.api_url(get_settings().api_url), timeout=30, headers=headers)


def check(response: httpx.Response) -> dict:
    """The response's JSON body; on an error status, print the API's error (and a hint on 401) and exit 2."""
    if response.status_code >= 400:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {"message": response.text}
        err_console.print(f"[red]✗[/] {response.status_code} {error.get('code', '')}: {error.get('message', '')}")
        details = error.get("details") or []
        if isinstance(details, dict):  # dialect 1 names a missing resource so: {"agent_id": "ag-…"}
            details = [{"field": key, "message": value} for key, value in details.items()]
        for detail in details:
            where = f" (line {detail['line']})" if detail.get("line") else ""
            err_console.print(f"  - {detail.get('field')}{where}: {detail.get('message')}", markup=False)
        if response.status_code == 401:
            from core.settings import get_settings

            looked = profile.credential(get_settings().cli_key_file).looked
            err_console.print("  the CLI looked for a credential in: " + "; ".join(looked), markup=False)
            err_console.print("  set STELLARFLOW_TOKEN to a token or API key, or STELLARFLOW_DATA_DIR to the data dir "
                              "of the `stellarflow up` whose cli.key to use", markup=False)
        raise typer.Exit(2)
    return response.json() if response.content else {}
