"""HTTP routes, one module per resource; ``ROUTERS`` is what the app mounts."""

from authsome.daemon.routes import (
    audit,
    connections,
    health,
    identities,
    oauth,
    oauth_browser,
    providers,
    resolve,
    runs,
    vault,
    web_agents,
    web_auth,
    web_claims,
    web_overview,
    web_providers,
    web_settings,
)

ROUTERS = (
    health.router,
    identities.router,
    providers.router,
    connections.router,
    oauth.router,
    oauth_browser.router,
    runs.router,
    resolve.router,
    vault.router,
    audit.router,
    web_agents.router,
    web_auth.router,
    web_claims.router,
    web_overview.router,
    web_providers.router,
    web_settings.router,
)
