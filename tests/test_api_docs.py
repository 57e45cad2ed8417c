"""`/docs` and `/redoc` work without the internet: Swagger UI and ReDoc come from the API itself, and the pages'
Content-Security-Policy allows no other origin."""

from __future__ import annotations

import re

import httpx


async def test_docs_pages_load_their_assets_from_the_api(anon_api: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        response = await anon_api.get(page)
        assert response.status_code == 200, page
        assert "cdn." not in response.text and "https://" not in response.text.split("<body", 1)[0], page
        csp = response.headers["content-security-policy"]
        assert "https:" not in csp and "script-src 'self'" in csp, csp
        assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', response.text)
        assert assets, response.text[:500]
        for asset in assets:
            loaded = await anon_api.get(asset)
            assert loaded.status_code == 200 and len(loaded.content) > 1000, asset
    spec = await anon_api.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "StellarFlow API"
